//! `tools/bench` runs and prints its tables. This checks that the benchmark works, never how
//! fast anything is: the numbers belong in book/src/benchmarks.md, not in assertions, because a
//! busy machine would make a timed test fail for no fault of the code.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// The target directory this test was built in (`target/debug/deps/bench_smoke-*` is us), so
/// that the benchmark reuses the steps `cargo test` already built instead of building anew.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

/// The workspace's steps, as its Cargo.toml lists them: `step01-clone`, `step02-uts`, ...
fn steps() -> Vec<String> {
    let manifest = std::fs::read_to_string(workspace().join("Cargo.toml")).unwrap();
    let mut steps: Vec<String> = manifest
        .lines()
        .filter_map(|l| l.trim().strip_prefix('"')?.split('"').next())
        .filter(|n| n.len() > 6 && n.starts_with("step") && n[4..6].bytes().all(|b| b.is_ascii_digit()))
        .map(String::from)
        .collect();
    steps.sort();
    steps
}

fn bench(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(workspace().join("tools/bench"))
        .args(args)
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .expect("could not start tools/bench (is python3 installed?)");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Whether the cargo that tools/bench runs (`$CARGO`, which `cargo test` sets, or `cargo` in
/// PATH) is there for this user to run: it builds the steps. A test binary run by hand as
/// another user may have none; the test then says so and is skipped (under CI, it fails).
fn cargo_or_skip() -> bool {
    let cargo = std::env::var_os("CARGO").map(PathBuf::from).or_else(|| {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path).map(|dir| dir.join("cargo")).find(|c| c.is_file())
    });
    let runnable =
        cargo.as_ref().is_some_and(|c| nix::unistd::access(c, nix::unistd::AccessFlags::X_OK).is_ok());
    if runnable {
        return true;
    }
    let why = match cargo {
        Some(cargo) => format!("{} is not a cargo this user may run", cargo.display()),
        None => "there is no cargo in PATH".to_string(),
    };
    let why = format!("tools/bench builds the steps with cargo, and {why}");
    assert!(std::env::var_os("CI").is_none(), "{why}");
    // Straight to fd 2: the test harness captures eprintln!, and a skip must be seen.
    let _ = writeln!(std::io::stderr(), "note: skipped a check: {why}; run the tests with cargo test");
    false
}

/// The cells of the table row for `name`, if there is one.
fn row<'a>(stdout: &'a str, name: &str) -> Option<Vec<&'a str>> {
    stdout
        .lines()
        .find(|l| l.starts_with(&format!("| {name} |")))
        .map(|l| l.trim_matches('|').split(" | ").map(str::trim).collect())
}

fn number(cell: &str, what: &str, line: &[&str]) -> f64 {
    let value: f64 = cell.parse().unwrap_or_else(|_| panic!("{what} is not a number in {line:?}"));
    assert!(value.is_finite() && value > 0.0, "{what} is {value} in {line:?}");
    value
}

#[test]
fn quick_run_prints_a_row_per_step() {
    if !cargo_or_skip() {
        return;
    }
    let (status, stdout, stderr) = bench(&["--quick", "--profile", "dev"]);
    assert_eq!(status, 0, "tools/bench --quick failed\n{stderr}\n{stdout}");
    assert!(
        stdout.contains("| step | median ms | p90 ms | compared with | its median ms | its p90 ms | ratio |"),
        "no table header\n{stdout}"
    );
    assert!(stdout.contains("- machine: "), "the machine is not described\n{stdout}");

    let floor = row(&stdout, "(floor)").unwrap_or_else(|| panic!("no floor row\n{stdout}"));
    number(floor[1], "the floor's median", &floor);

    let steps = steps();
    assert!(steps.len() >= 5, "found only {steps:?}");
    let mut missing = vec![];
    for step in &steps {
        let Some(cells) = row(&stdout, step) else {
            missing.push(step.clone());
            continue;
        };
        assert_eq!(cells.len(), 10, "{cells:?}");
        let median = number(cells[1], "median", &cells);
        let p90 = number(cells[2], "p90", &cells);
        assert!(p90 >= median, "p90 below the median: {cells:?}");
        let (other_median, other_p90) =
            (number(cells[4], "its median", &cells), number(cells[5], "its p90", &cells));
        assert!(other_p90 >= other_median, "{cells:?}");
        // The ratio is the two medians' (as printed, to two decimals).
        let ratio = number(cells[6], "ratio", &cells);
        assert!((ratio - median / other_median).abs() < 0.05, "{cells:?}");
        let expected = if step.starts_with("step01") { "`/bin/true`" } else { "`unshare " };
        assert!(cells[3].starts_with(expected), "{step} is compared with {}", cells[3]);
        assert!(!cells[9].is_empty(), "no goal for {step}");
    }
    // As root every step runs; without root, those that need it are left out, and it says so.
    if missing.is_empty() || !testkit::root_or_skip("steps 02-05 and 07 need root to run") {
        for step in &missing {
            assert!(stdout.contains(&format!("{step} (needs root)")), "{step} left out silently\n{stdout}");
        }
        return;
    }
    panic!("no row for {missing:?}\n{stdout}\n{stderr}");
}

#[test]
fn too_few_runs_is_one_line() {
    let (status, stdout, stderr) = bench(&["--runs", "0"]);
    assert_eq!(status, 1, "{stderr}");
    assert_eq!(stderr, "bench: error: --runs must be at least 1\n");
    assert_eq!(stdout, "");
}

#[test]
fn cargo_that_cannot_run_is_one_line() {
    // A cargo this user may not execute (found running the tests as nobody, with cargo under
    // /root) was a Python traceback; it is one line, exit 1.
    let out = Command::new(workspace().join("tools/bench"))
        .args(["--quick"])
        .env("CARGO", "/etc/passwd")
        .output()
        .expect("could not start tools/bench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| !l.starts_with("[bench]")).collect();
    assert_eq!(
        errors,
        ["bench: error: /etc/passwd: permission denied: is it executable, and can this user reach it?"]
    );
}

#[test]
fn static_says_when_there_is_nothing_to_compare() {
    if !cargo_or_skip() {
        return;
    }
    // .cargo/config.toml links glibc statically, so --static (the experiment that measured the
    // dynamic loader) has no dynamic build to compare with: it must say so, not print rows
    // labelled as an experiment that are the same binaries again.
    let (status, stdout, stderr) = bench(&["--quick", "--profile", "dev", "--static"]);
    assert_eq!(status, 0, "tools/bench --quick --static failed\n{stderr}\n{stdout}");
    if stdout.contains("- steps linked statically with glibc, as built") {
        assert!(!stdout.contains("(static)"), "static rows for static steps\n{stdout}");
        assert!(stderr.contains("--static adds nothing"), "{stderr}");
    } else {
        assert!(stdout.contains("linked dynamically"), "linking not said\n{stdout}");
    }
}

/// tools/bench as `sudo tools/bench` runs it: root, with SUDO_USER and SUDO_UID of the caller.
fn bench_through_sudo(user: &str, uid: &str, cargo: &Path) -> (Option<i32>, Vec<String>) {
    let out = Command::new(workspace().join("tools/bench"))
        .args(["--quick"])
        .env("SUDO_USER", user)
        .env("SUDO_UID", uid)
        .env("CARGO", cargo)
        .output()
        .expect("could not start tools/bench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    (out.status.code(), stderr.lines().filter(|l| !l.starts_with("[bench]")).map(String::from).collect())
}

#[test]
fn through_sudo_cargo_runs_as_the_caller() {
    // `sudo tools/bench` ran cargo as root: sudo's secure_path has no ~/.cargo/bin, so cargo
    // was not found, and where it was, root came to own files in the caller's target/. Every
    // cargo command runs as SUDO_USER; a fake cargo that fails, saying who ran it, shows it.
    if !testkit::root_or_skip("tools/bench drops to SUDO_USER only when root runs it") {
        return;
    }
    let template = std::env::temp_dir().join("bench-smoke-XXXXXX");
    let dir = nix::unistd::mkdtemp(&template).expect("mkdtemp");
    let fake = dir.join("cargo");
    std::fs::write(&fake, "#!/bin/sh\necho \"cargo run by uid $(id -u)\" >&2\nexit 3\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    for (path, mode) in [(&dir, 0o755), (&fake, 0o755)] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let (status, errors) = bench_through_sudo("nobody", "65534", &fake);
    let (bad_uid, bad_uid_errors) = bench_through_sudo("nobody", "65534x", &fake);
    let (wrong, wrong_errors) = bench_through_sudo("root", "65534", &fake);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(status, Some(1), "{errors:?}");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("as nobody (who ran sudo) failed: cargo run by uid 65534:"), "{errors:?}");
    // SUDO_* that do not hold together are one line, not a guess.
    assert_eq!((bad_uid, bad_uid_errors.len()), (Some(1), 1), "{bad_uid_errors:?}");
    assert!(bad_uid_errors[0].contains("SUDO_UID='65534x' is not a uid"), "{bad_uid_errors:?}");
    assert_eq!((wrong, wrong_errors.len()), (Some(1), 1), "{wrong_errors:?}");
    assert!(wrong_errors[0].contains("has uid 0, not SUDO_UID=65534"), "{wrong_errors:?}");
}
