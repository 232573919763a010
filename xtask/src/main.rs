//! Project chores, run as `cargo xtask COMMAND` (see .cargo/config.toml).
//!
//! - `cargo xtask diffs`: write book/src/diffs/stepNN.diff, each step against the one before;
//! - `cargo xtask transcripts [NAME...]`: build the workspace, run book/transcripts/NAME.txt
//!   (all of them by default; as root, through sudo if you are not) and write
//!   book/src/transcripts/NAME.txt;
//! - `cargo xtask linkcheck [DIR]`: check the built book (default book/book) for broken local
//!   links and unresolved `{{#` directives;
//! - `cargo xtask check-book`: `mdbook build book` (or `$MDBOOK build book`), then the Chinese
//!   edition, `mdbook build book/zh` (into book/book/zh), failing on any warning, then
//!   `linkcheck` of both, the links between them included (what CI runs);
//! - `cargo xtask book`: regenerate the diffs and transcripts, then `check-book`;
//! - `cargo xtask doctor`: which steps run here, as you, with sudo and in the sandbox, and
//!   for those that cannot, why and the command that fixes it;
//! - `cargo xtask reset`: remove the bridge step07 leaves behind, and report anything else;
//! - `cargo xtask sandbox [-- COMMAND...]`: a shell (or COMMAND) in which you are root over
//!   namespaces of your own, with a network of its own: every step runs there without sudo.
//! - `cargo xtask check NN [EXERCISE]`, `check --all`: check the coding exercises of step NN
//!   (see `xtask::check` and exercises/).
//!
//! Nothing here asks you to type `sudo cargo`, which stock sudoers refuse (`secure_path` has
//! no ~/.cargo/bin): what needs root re-runs this binary through sudo ([`root_half`]).

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use xtask::{diffs, doctor, linkcheck, reset, root_half, sandbox, transcripts, workspace};

const USAGE: &str = "usage: cargo xtask diffs | transcripts [NAME...] | linkcheck [DIR] | check-book | book
       cargo xtask doctor | reset | sandbox [-- COMMAND...]
       cargo xtask check NN [EXERCISE] | check --all | check --list | check --pages";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("diffs") => cmd_diffs(),
        Some("transcripts") => cmd_transcripts(&args[1..]),
        Some("linkcheck") => cmd_linkcheck(args.get(1).map(PathBuf::from)),
        Some("check-book") => cmd_book(),
        Some("check") => std::process::exit(xtask::check::main(&args[1..])),
        Some("book") => cmd_diffs().and_then(|()| cmd_transcripts(&[])).and_then(|()| cmd_book()),
        Some("doctor") => doctor::run(),
        Some("reset") => reset::run(&workspace()),
        Some("sandbox") => sandbox::run(&args[1..]),
        Some("-h" | "--help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2)
        }
    };
    if let Err(err) = result {
        eprintln!("xtask: error: {err:#}");
        std::process::exit(1);
    }
}

fn cmd_diffs() -> Result<()> {
    let root = workspace();
    let written = diffs::write(&root)?;
    eprintln!("xtask: {} diff(s) changed in {}: {written:?}", written.len(), diffs::dir(&root).display());
    Ok(())
}

/// Build as the user who asked, then run the scripts as root: through `sudo`, by our own
/// absolute path, when that user is not root (`root_half`: `sudo cargo` fails on stock sudoers).
fn cmd_transcripts(args: &[String]) -> Result<()> {
    let as_root = args.iter().any(|a| a == root_half::FLAG);
    let names: Vec<&String> = args.iter().filter(|a| *a != root_half::FLAG).collect();
    let ws = xtask::check::run::Workspace::this();
    let root = ws.root.clone();
    if !as_root {
        eprintln!("xtask: workspace {}", root.display());
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--workspace", "--bins"])
            .current_dir(&root)
            .status()
            .context("running cargo build")?;
        if !status.success() {
            bail!("cargo build --workspace failed");
        }
    }
    if !nix::unistd::geteuid().is_root() {
        let rerun: Vec<String> =
            std::iter::once("transcripts".to_string()).chain(names.iter().map(|n| n.to_string())).collect();
        match root_half::run(&rerun)? {
            Some(0) => return Ok(()),
            Some(status) => std::process::exit(status),
            None => std::process::exit(2),
        }
    }
    let bin_dir = ws.target_dir.join("debug");
    let out_dir = transcripts::output_dir(&root);
    std::fs::create_dir_all(&out_dir)?;
    let scripts = transcripts::scripts(&root)?;
    for name in &names {
        if !scripts.iter().any(|s| &&s.name == name) {
            bail!("no script book/transcripts/{name}.txt");
        }
    }
    for script in scripts.iter().filter(|s| names.is_empty() || names.contains(&&s.name)) {
        let Some(file) = script.file_here() else {
            eprintln!(
                "xtask: skipped book/transcripts/{}.txt: it is recorded where cgroups are {:?}, and here they are {}",
                script.name,
                script.cgroups.as_deref().unwrap_or_default(),
                transcripts::cgroup_layout()
            );
            continue;
        };
        eprintln!("xtask: running book/transcripts/{}.txt into {file}", script.name);
        let text = transcripts::run(&root, &bin_dir, script)?;
        let path = out_dir.join(file);
        std::fs::write(&path, text)?;
        root_half::give_back(&root, &path);
    }
    Ok(())
}

fn cmd_linkcheck(dir: Option<PathBuf>) -> Result<()> {
    let dir = dir.unwrap_or_else(|| workspace().join("book/book"));
    let problems = linkcheck::check(&dir)?;
    for problem in &problems {
        eprintln!("{problem}");
    }
    if !problems.is_empty() {
        // The English pages link to the Chinese edition: without it, every one of them fails.
        let hint = match dir.join("zh/index.html").exists() {
            true => "",
            false => " (the Chinese edition is not built in zh/: `cargo xtask check-book` builds both)",
        };
        bail!("{} problem(s) in the built book {}{hint}", problems.len(), dir.display());
    }
    eprintln!("xtask: no broken local link and no unresolved directive in {}", dir.display());
    Ok(())
}

/// `mdbook build book`, then `mdbook build book/zh`, failing on any warning, then the link check.
///
/// The Chinese edition builds into `book/book/zh/`, inside the English one, so that each page's
/// first line can link to the other edition's page with a relative link. mdBook empties its
/// build directory first, so the English book must be built first. One link check of
/// `book/book` then covers both, and the links between them.
fn cmd_book() -> Result<()> {
    let root = workspace();
    build_book(&root.join("book"))?;
    build_book(&root.join("book/zh"))?;
    cmd_linkcheck(None)
}

fn build_book(book: &Path) -> Result<()> {
    // `.ci/run` names the mdBook it installed and checked, so that another one found earlier in
    // PATH cannot stand in for it.
    let mdbook = std::env::var_os("MDBOOK").unwrap_or_else(|| "mdbook".into());
    let out = Command::new(mdbook)
        .arg("build")
        .arg(book)
        .output()
        .context("running mdbook (install it: cargo install mdbook --locked --version 0.5.4 --no-default-features --features search)")?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprint!("{stderr}");
    if !out.status.success() {
        bail!("mdbook build failed");
    }
    if stderr.contains("WARN") || stderr.contains("ERROR") {
        bail!("mdbook build printed warnings; the book must build without any");
    }
    Ok(())
}
