//! `.ci/run` is honest: it refuses to run as anyone but root (where root-only tests would skip
//! and it would pass anyway), runs the tests with CI=true, and builds the book with the mdBook it
//! installed and checked, by its path, whatever else PATH has.
//!
//! Each test runs a copy of `.ci/run` in a checkout of its own, with stand-ins for `cargo` and
//! `apt-get` first in PATH, which write down how they were called and change nothing else.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use testkit::{fresh_dir_for_nobody, Out};
use xtask::workspace;

/// The stand-in for cargo: it notes its arguments, CI and MDBOOK; `cargo install --root DIR`
/// puts there an `mdbook` that says it is the pinned version, and `cargo build --target-dir DIR`
/// a step01-clone that does nothing.
const FAKE_CARGO: &str = r#"#!/bin/sh
echo "cargo $* CI=${CI:-unset} MDBOOK=${MDBOOK:-unset}" >> "$CALLS"
if [ "$1" = install ]; then
    while [ $# -gt 0 ]; do [ "$1" = --root ] && root=$2; shift; done
    mkdir -p "$root/bin"
    printf '#!/bin/sh\necho mdbook v0.5.4\n' > "$root/bin/mdbook"
    chmod 755 "$root/bin/mdbook"
fi
if [ "$1" = build ]; then
    while [ $# -gt 0 ]; do [ "$1" = --target-dir ] && dir=$2; shift; done
    mkdir -p "$dir/debug"
    printf '#!/bin/sh\n' > "$dir/debug/step01-clone"
    chmod 755 "$dir/debug/step01-clone"
fi
"#;

/// A checkout with `.ci/run` in it, and a directory of stand-ins for its PATH.
struct Checkout {
    dir: PathBuf,
    fakes: PathBuf,
    calls: PathBuf,
}

fn write_program(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

impl Checkout {
    fn new() -> Checkout {
        let dir = fresh_dir_for_nobody("ci-checkout");
        let run = std::fs::read_to_string(workspace().join(".ci/run")).unwrap();
        write_program(&dir.join(".ci/run"), &run);
        // .ci/run reads the oldest Rust the workspace promises from it.
        std::fs::copy(workspace().join("Cargo.toml"), dir.join("Cargo.toml")).unwrap();
        let fakes = dir.join("fakes");
        write_program(&fakes.join("cargo"), FAKE_CARGO);
        write_program(&fakes.join("apt-get"), "#!/bin/sh\necho \"apt-get $*\" >> \"$CALLS\"\n");
        // The VM test, which .ci/run runs right after the tests on this machine.
        write_program(
            &dir.join("tools/vm-test"),
            "#!/bin/sh\necho \"tools/vm-test$* CI=${CI:-unset}\" >> \"$CALLS\"\n",
        );
        // An older mdBook, found first in PATH.
        write_program(&fakes.join("mdbook"), "#!/bin/sh\necho mdbook v0.4.0\n");
        let calls = dir.join("calls");
        Checkout { dir, fakes, calls }
    }

    /// Run `.ci/run` with `prefix` before it (e.g. to run it as nobody).
    fn run(&self, prefix: &[String]) -> (Out, String) {
        let mut argv = prefix.to_vec();
        argv.push(self.dir.join(".ci/run").display().to_string());
        let path = format!("{}:{}", self.fakes.display(), testkit::SYSTEM_PATH);
        let out = Command::new(&argv[0])
            .args(&argv[1..])
            .env_clear()
            .env("PATH", path)
            .env("HOME", "/")
            .env("CALLS", &self.calls)
            .output()
            .unwrap();
        let out = Out::from(out);
        let calls = std::fs::read_to_string(&self.calls).unwrap_or_default();
        (out, calls)
    }

    fn pinned_mdbook(&self) -> PathBuf {
        self.dir.join("target/ci-tools/bin/mdbook")
    }
}

/// Run by hand as an ordinary user, the root-only tests would skip and CI would pass: it says
/// so in one line and fails, before running anything.
#[test]
fn refuses_to_run_as_an_ordinary_user() {
    let checkout = Checkout::new();
    let prefix = match testkit::is_root() {
        true => testkit::NOBODY.iter().map(|s| s.to_string()).collect(),
        false => vec![],
    };
    let (out, calls) = checkout.run(&prefix);
    assert_eq!(out.status, 1, "{out:#?}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:#?}");
    assert!(out.stderr.starts_with(".ci/run: run it as root (sudo .ci/run)"), "{out:#?}");
    assert_eq!(calls, "", "nothing may run");
}

/// As root: the tests run with CI=true; an mdBook of the pinned version that does not work is
/// installed again under target/, and the book is built with that one, not with the older one
/// found first in PATH.
#[test]
fn sets_ci_and_builds_the_book_with_the_mdbook_it_checked() {
    if !testkit::root_or_skip(".ci/run runs as root") {
        return;
    }
    let checkout = Checkout::new();
    // Broken: the right version once, but it no longer runs.
    write_program(&checkout.pinned_mdbook(), "#!/bin/sh\nexit 127\n");
    let (out, calls) = checkout.run(&[]);
    assert_eq!(out.status, 0, "{out:#?}\n{calls}");
    let calls: Vec<&str> = calls.lines().filter(|l| !l.starts_with("apt-get ")).collect();
    let root = checkout.dir.join("target/ci-tools");
    // The build without libc.a, between the tests and the book.
    let calls = without_libc_a_build(calls);
    let mdbook = checkout.pinned_mdbook();
    assert_eq!(calls.len(), 3, "{calls:#?}");
    assert!(calls[0].starts_with("cargo test --workspace CI=true "), "{calls:#?}");
    assert!(calls[1].starts_with("cargo install "), "{calls:#?}");
    assert!(
        calls[1].contains(&format!(" --root {} ", root.display())) && calls[1].contains(" --version 0.5.4 "),
        "{calls:#?}"
    );
    assert_eq!(calls[2], format!("cargo xtask check-book CI=true MDBOOK={}", mdbook.display()));
}

/// As root, with the pinned mdBook already installed and working: nothing is installed.
#[test]
fn keeps_a_working_mdbook() {
    if !testkit::root_or_skip(".ci/run runs as root") {
        return;
    }
    let checkout = Checkout::new();
    write_program(&checkout.pinned_mdbook(), "#!/bin/sh\necho mdbook v0.5.4\n");
    let (out, calls) = checkout.run(&[]);
    assert_eq!(out.status, 0, "{out:#?}\n{calls}");
    let calls: Vec<&str> = calls.lines().filter(|l| !l.starts_with("apt-get ")).collect();
    let calls = without_libc_a_build(calls);
    assert_eq!(calls.len(), 2, "{calls:#?}");
    assert!(calls[0].starts_with("cargo test --workspace CI=true "));
    assert!(calls[1].starts_with("cargo xtask check-book CI=true MDBOOK="));
}

/// The calls without the VM test (tools/vm-test, with CI=true, right after the tests) and
/// `.ci/run`'s build of step01 with libc.a hidden, which must come next, into a target
/// directory of its own.
fn without_libc_a_build(calls: Vec<&str>) -> Vec<&str> {
    assert!(calls.len() >= 3, "{calls:#?}");
    assert_eq!(calls[1], "tools/vm-test CI=true", "{calls:#?}");
    assert!(
        calls[2].starts_with("cargo build --quiet -p step01-clone --target-dir ")
            && calls[2].contains("/target/without-libc-a "),
        "{calls:#?}"
    );
    calls.into_iter().enumerate().filter(|(i, _)| *i != 1 && *i != 2).map(|(_, c)| c).collect()
}
