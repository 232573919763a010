//! The coding exercises keep the checker honest: each exercise's checks fail on the step as it
//! is and pass with its reference solution, `exercises/solutions/NN-name.patch`, applied to a
//! scratch copy of the workspace. Every spec has a solution, and the book's pages are the
//! specs' own words.

mod exercises_support;

use exercises_support::{
    build_all, check_in_a_sandbox, copy_tracked_files, git, shared_target_dir, target_dir, Scratch,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use xtask::check::run::{self, Workspace};
use xtask::check::{pages, spec, status_of, Status};
use xtask::workspace;

/// What to say when a failure may come from a learner's work rather than from the tutorial.
const LEARNER_NOTE: &str = "(If you edited a step for an exercise, this is expected: these checks are for \
                            the tutorial's maintainers.)";

#[test]
fn every_exercise_has_a_solution_and_every_solution_an_exercise() {
    let root = workspace();
    let exercises = spec::load_all(&root).unwrap();
    assert!(!exercises.is_empty(), "no exercises in exercises/");
    let mut patches: Vec<String> = std::fs::read_dir(root.join("exercises/solutions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    patches.sort();
    let ids: Vec<String> = exercises.iter().map(|e| format!("{}.patch", e.id)).collect();
    assert_eq!(patches, ids, "exercises/solutions/ should hold one NN-name.patch per exercises/NN-name.md");
    for exercise in &exercises {
        assert!(
            root.join(&exercise.step).join("Cargo.toml").is_file(),
            "{}: no step {}",
            exercise.id,
            exercise.step
        );
        assert!(exercise.hints.len() >= 2, "{}: give at least two hints", exercise.id);
    }
}

#[test]
fn every_step_has_an_exercise() {
    let root = workspace();
    let exercises = spec::load_all(&root).unwrap();
    for step in xtask::steps(&root).unwrap() {
        assert!(
            exercises.iter().any(|e| e.step == step),
            "{step} has no coding exercise: add exercises/{n}-NAME.md and exercises/solutions/{n}-NAME.patch \
             (exercises/README.md says how), then run `cargo xtask check --pages`",
            n = &step[4..6]
        );
    }
}

#[test]
fn book_pages_match_the_specs() {
    let root = workspace();
    let exercises = spec::load_all(&root).unwrap();
    let mut stale = Vec::new();
    for (name, text) in pages::generate(&exercises) {
        match std::fs::read_to_string(pages::dir(&root).join(&name)) {
            Ok(committed) if committed == text => {}
            Ok(_) => stale.push(format!("book/src/exercises/{name} differs")),
            Err(_) => stale.push(format!("book/src/exercises/{name} is missing")),
        }
    }
    assert!(
        stale.is_empty(),
        "the book's exercise pages no longer match exercises/*.md: run `cargo xtask check --pages` and commit \
         book/src/exercises\n{}",
        stale.join("\n")
    );
}

#[test]
fn solutions_apply_to_the_workspace() {
    let root = workspace();
    for exercise in spec::load_all(&root).unwrap() {
        let patch = root.join(format!("exercises/solutions/{}.patch", exercise.id));
        let out = git(&root, &["apply", "--check", patch.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "exercises/solutions/{}.patch does not apply to the workspace: {}\n{LEARNER_NOTE}",
            exercise.id,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The proof: in a scratch copy of the workspace, every exercise is "not started" and its
/// checks fail; with its solution applied, its checks pass. Each patched step is built once.
#[test]
fn checks_fail_before_and_pass_after_the_solution() {
    // The scratch copy and its builds live under target/: the tests' user must own it, as in a
    // checkout of one's own. (Not so when root built it and another user runs the tests.)
    if nix::unistd::access(&target_dir(), nix::unistd::AccessFlags::W_OK).is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{} is not writable: CI must run this test",
            target_dir().display()
        );
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!(
                "note: skipped: {} is not writable by this user, who did not build it\n",
                target_dir().display()
            )
            .as_bytes(),
        );
        return;
    }
    let scratch = Scratch::new();
    let ws = Workspace { root: scratch.0.join("workspace"), target_dir: shared_target_dir() };
    copy_tracked_files(&workspace(), &ws.root);
    assert!(git(&ws.root, &["init", "--quiet"]).status.success(), "git init in the scratch copy failed");

    let exercises = spec::load_all(&ws.root).unwrap();
    let runnable: Vec<_> = exercises.iter().filter(|e| !e.needs_root || run::is_root()).collect();
    if runnable.len() < exercises.len() {
        let skipped: Vec<&str> = exercises.iter().filter(|e| e.needs_root).map(|e| e.id.as_str()).collect();
        testkit::root_or_skip(&format!("the checks of {} create namespaces", skipped.join(", ")));
    }

    // Before: every step as it is, built once.
    let mut steps: Vec<&str> = runnable.iter().map(|e| e.step.as_str()).collect();
    steps.dedup();
    build_all(&ws, &steps);
    let mut problems = Vec::new();
    for exercise in &runnable {
        let binary = ws.binary(&exercise.step);
        assert!(
            !run::started(&binary, exercise).unwrap(),
            "{}: the unmodified step counts as started",
            exercise.id
        );
        let outcomes = run::run_checks(&ws, exercise, &binary).unwrap();
        match status_of(&outcomes) {
            Status::Failed { .. } => {}
            other => problems.push(format!(
                "{}: on the unmodified {}, the checks say {other}",
                exercise.id, exercise.step
            )),
        }
    }

    // After: each solution on its own, applied, built, checked, then taken out again.
    for exercise in &runnable {
        let patch = ws.root.join(format!("exercises/solutions/{}.patch", exercise.id));
        let patch = patch.to_str().unwrap();
        let applied = git(&ws.root, &["apply", patch]);
        assert!(applied.status.success(), "{}: {}", exercise.id, String::from_utf8_lossy(&applied.stderr));
        match run::build(&ws, &exercise.step, false).unwrap() {
            Err(errors) => problems.push(format!("{}: the solution does not build:\n{errors}", exercise.id)),
            Ok(binary) => {
                if !run::started(&binary, exercise).unwrap() {
                    problems.push(format!(
                        "{}: with the solution, --help does not list {}",
                        exercise.id,
                        exercise.option()
                    ));
                }
                for outcome in run::run_checks(&ws, exercise, &binary).unwrap().iter().filter(|o| !o.passed) {
                    problems.push(format!(
                        "{}: with the solution, a check fails: {}\n  expected: {:?}\n  saw: {:?}\n  stderr: {}",
                        exercise.id, outcome.title, outcome.expected, outcome.stdout, outcome.stderr
                    ));
                }
            }
        }
        // `cargo xtask sandbox` maps uid 0 only: a step that runs as nobody elsewhere must
        // still pass there (setpriv to nobody failed, and a correct solution scored 0).
        if exercise.as_nobody && run::is_root() {
            let out = check_in_a_sandbox(&ws, &exercise.id);
            if !out.status.success() {
                problems.push(format!(
                    "{}: with the solution, in a user namespace that maps only uid 0 (the sandbox's), \
                     `xtask check` says {:?}:\n{}{}",
                    exercise.id,
                    out.status.code(),
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
        for file in &exercise.files {
            let out = Command::new("rustfmt")
                .args(["--check", "--edition", "2021"])
                .arg(ws.root.join(file))
                .output();
            if out.is_ok_and(|o| !o.status.success()) {
                problems.push(format!("{}: the solution leaves {file} unformatted (cargo fmt)", exercise.id));
            }
        }
        let reverted = git(&ws.root, &["apply", "--reverse", patch]);
        assert!(reverted.status.success(), "{}: {}", exercise.id, String::from_utf8_lossy(&reverted.stderr));
    }

    // Wrong work that used to pass: each exercises/wrong/NN-name.WHAT.patch is the reference
    // solution with one mistake, and some check of its exercise must fail on it.
    for (exercise, patch) in wrong_patches(&ws.root) {
        let Some(exercise) = runnable.iter().find(|e| e.id == exercise) else { continue };
        let name = patch.file_name().unwrap().to_string_lossy().into_owned();
        let applied = git(&ws.root, &["apply", patch.to_str().unwrap()]);
        assert!(applied.status.success(), "{name}: {}", String::from_utf8_lossy(&applied.stderr));
        match run::build(&ws, &exercise.step, false).unwrap() {
            Err(errors) => problems.push(format!("exercises/wrong/{name} does not build:\n{errors}")),
            Ok(binary) => {
                let outcomes = run::run_checks(&ws, exercise, &binary).unwrap();
                match status_of(&outcomes) {
                    Status::Failed { .. } => {}
                    other => {
                        problems.push(format!("exercises/wrong/{name}: the checks say {other}, not failed"))
                    }
                }
            }
        }
        let reverted = git(&ws.root, &["apply", "--reverse", patch.to_str().unwrap()]);
        assert!(reverted.status.success(), "{name}: {}", String::from_utf8_lossy(&reverted.stderr));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `exercises/wrong/NN-name.WHAT.patch`: (`NN-name`, its path), in order.
fn wrong_patches(root: &Path) -> Vec<(String, PathBuf)> {
    let mut patches: Vec<(String, PathBuf)> = std::fs::read_dir(root.join("exercises/wrong"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|path| {
            (path.file_name().unwrap().to_string_lossy().split('.').next().unwrap().to_string(), path)
        })
        .collect();
    patches.sort();
    patches
}

#[test]
fn every_wrong_patch_is_a_variant_of_an_exercise() {
    let root = workspace();
    let exercises = spec::load_all(&root).unwrap();
    for (id, patch) in wrong_patches(&root) {
        assert!(exercises.iter().any(|e| e.id == id), "{}: no exercise {id}", patch.display());
        let out = git(&root, &["apply", "--check", patch.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{} does not apply: {}",
            patch.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `sudo cargo ...` fails with stock sudoers (`secure_path` has no ~/.cargo/bin): no page,
/// spec or message may tell a learner to type it.
#[test]
fn no_printed_command_puts_sudo_before_cargo() {
    let root = workspace();
    let mut files = vec![root.join("README.md")];
    for dir in ["book/src", "book/zh/src", "exercises", "xtask/src"] {
        collect(&root.join(dir), &mut files);
    }
    let mut found = Vec::new();
    for file in files.iter().filter(|f| f.extension().is_some_and(|e| e == "md" || e == "rs")) {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let words: Vec<&str> = line.split(|c: char| c.is_whitespace() || c == '`').collect();
            for (i, word) in words.iter().enumerate() {
                let next = |k: usize| words.get(i + k).copied().unwrap_or_default();
                let cargo_at = match (next(1), next(2)) {
                    ("cargo", _) => 2,
                    ("-E", "cargo") => 3,
                    _ => continue,
                };
                // `sudo cargo` named as what not to type is fine; `sudo cargo xtask ...` is a command.
                if *word == "sudo" && next(cargo_at).chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
                    found.push(format!(
                        "{}:{}: {}",
                        file.strip_prefix(&root).unwrap().display(),
                        n + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(found.is_empty(), "printed commands that put sudo before cargo:\n{}", found.join("\n"));
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// The root half (`xtask check ... --as-root`, what `sudo /abs/xtask` runs) needs no cargo: it
/// runs with a PATH that has none, as sudo's `secure_path` gives it, checks the step the
/// user's half built, and does not build.
#[test]
fn the_root_half_runs_without_cargo() {
    if !run::is_root() {
        testkit::root_or_skip("the root half runs as root");
        return;
    }
    let root = workspace();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let built =
        Command::new(cargo).args(["build", "--quiet", "-p", "step01-clone"]).current_dir(&root).status();
    assert!(built.unwrap().success(), "cargo build -p step01-clone failed");
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["check", "01", "env", "--as-root"])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .current_dir(&root)
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!stderr.contains("building"), "the root half built: {stderr}");
    assert!(
        stdout.contains("01-env: ") && stdout.contains("Not started"),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert_eq!(out.status.code(), Some(1), "stdout: {stdout}\nstderr: {stderr}");
}
