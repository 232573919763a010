//! Replay an attack by another user on what root runs, in a /tmp of its own, and see what the
//! attack reached.
//!
//! The tests, `cargo xtask transcripts` and `tools/mkrootfs` run as root on machines where
//! others log in, and all of them use /tmp, where anyone may create files first. A test of that
//! defence plants, as `nobody`, what an attacker would ([`Attack::plant`]), next to files of
//! root's that must stay as they are ([`Attack::victim`]); then it runs one test of its own
//! test binary as root, in that /tmp, and gets every change in /tmp that outlived the test.
//! The replay runs inside `unshare --mount` with a tmpfs on /tmp, so nothing real is touched.
//!
//! Called by the attack tests: `testkit/tests/attacks.rs`, `xtask/tests/attacks.rs`, and the unit
//! tests of xtask's linkcheck and transcripts.

use crate::privilege::{installed_or_skip, real_root_or_skip, RealRoot};
use crate::step::{run_with_env, Out};

/// The script that sets the scene and runs the test; see its comments.
const REPLAY: &str = include_str!("../scripts/replay-attack.sh");

/// Set for the test that a replay runs, so that it knows it runs in a private /tmp.
const INSIDE: &str = "TESTKIT_REPLAY";

/// What another user prepared before root runs the tests.
pub struct Attack<'a> {
    /// A shell script run first, as root: files of root's that the attack aims at.
    pub victim: &'a str,
    /// A shell script run next, as nobody, with `$1` the PID the test process will have: what
    /// the attacker plants in /tmp.
    pub plant: &'a str,
}

/// How the replayed test ended, and what it left changed in /tmp.
#[derive(Debug)]
pub struct Replayed {
    /// The test binary's exit status: 0 if the test passed.
    pub status: i32,
    /// Each difference in /tmp between before the test and after it: `< ...` what was there
    /// before, `> ...` what is there after (name, owner, mode, type, symlink target; checksums).
    pub changes: Vec<String>,
    /// Everything the replay printed, the test's own output on stderr.
    pub out: Out,
}

/// Run the test `test` (its full name, such as `tests::scripts_parse`) of this test binary as
/// root in a /tmp of its own, after `attack`. `None` if it cannot run here (not root), after
/// saying why.
pub fn replay(attack: &Attack, test: &str) -> Option<Replayed> {
    if !real_root_or_skip(RealRoot::Nobody) || !installed_or_skip(&["unshare", "setpriv"]) {
        return None;
    }
    let exe = std::env::current_exe().unwrap();
    // A workspace cloned under /tmp (and its target/) stays reachable in the replay's /tmp.
    let keep = match exe.strip_prefix("/tmp").ok().and_then(|rest| rest.iter().next()) {
        Some(top) => std::path::Path::new("/tmp").join(top).display().to_string(),
        None => String::new(),
    };
    let exe = exe.display().to_string();
    let argv = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        REPLAY,
        "replay",
        &exe,
        "--exact",
        test,
        "--include-ignored",
        "--nocapture",
        "--test-threads=1",
    ];
    let env = [("VICTIM", attack.victim), ("PLANT", attack.plant), (INSIDE, "1"), ("KEEP", &keep)];
    let out = run_with_env(&argv, &env);
    let mut lines = out.stdout.lines();
    let status = lines
        .next()
        .and_then(|l| l.strip_prefix("status "))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("the replay did not run the test\n{out:#?}"));
    assert!(out.stderr.contains("running 1 test"), "the replay should run exactly the test {test}\n{out:#?}");
    let changes = lines.map(String::from).collect();
    Some(Replayed { status, changes, out })
}

/// Whether this test runs inside a replay. A test meant only for replays is `#[ignore]`d, and
/// returns at once when run any other way (`cargo test -- --ignored`), after saying so.
pub fn inside_replay() -> bool {
    if std::env::var_os(INSIDE).is_some() {
        return true;
    }
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        b"note: this test runs only inside a replayed attack, started by another test\n",
    );
    false
}
