//! Who is speaking: the step's name and how the user started it, for every message we print.
//! `cli` sets both when it parses the command line; `report`, `init` and the steps read them.
//! (Its own file, so that `cli`, which reports usage errors, and `report`, which names the
//! program in each line, need not import each other.)

use std::sync::OnceLock;

static PROGRAM: OnceLock<&'static str> = OnceLock::new();
static INVOKED_AS: OnceLock<String> = OnceLock::new();

/// Remember our name and argv\[0\]; the first call wins.
pub(crate) fn set(name: &'static str, argv0: Option<String>) {
    let _ = PROGRAM.set(name);
    let _ = INVOKED_AS.set(argv0.unwrap_or_else(|| name.to_string()));
}

/// The step's name, for messages (`step02-uts`).
pub fn program() -> &'static str {
    PROGRAM.get().copied().unwrap_or("step")
}

/// How the user started us (argv\[0\]), for advice such as `sudo target/debug/step02-uts`.
pub fn invoked_as() -> &'static str {
    INVOKED_AS.get().map_or(program(), String::as_str)
}
