//! Helpers for the steps' integration tests.
//!
//! Every test runs a step's real binary as a subprocess (never `clone` in the test process,
//! which is multi-threaded) and checks what a learner would observe: the command's output
//! from inside, and `/proc/PID/ns/*`, `nsenter` and the host's state from outside.
//!
//! The checks are grouped by lesson, one file each, named like the lesson that established
//! them: [`clone`] (step01, with [`clone_signals`] and [`clone_caller`] for its hardening),
//! [`uts`], [`ipc`], [`pid`], [`mount`], [`user`], [`net`], [`cgroup`], [`time`], [`limits`],
//! [`overlay`], [`caps`], [`seccomp`] (with `scripts/foreign-call.rs`). A step's tests call its
//! own lesson's checks and every earlier lesson's, one line each, so a later step still proves
//! what every earlier step established; a new step's checks go in a new file named for its
//! lesson. [`wording`] holds what the steps say, which the checks look for; their longer shell
//! scripts are in `testkit/scripts/`.
//!
//! What the checks share: [`step`] runs a step and collects what it printed; [`privilege`]
//! says who the tests run as (root, the sandbox's root, a user, nobody) and skips in one line
//! what needs more; [`watch`] waits for processes. The tests run as root on shared machines,
//! so what they leave to other users is kept small: their files are in directories made new
//! for them ([`tmp`]), and a step run as nobody gets a minimal environment
//! ([`privilege::NOBODY`]). [`replay`] replays attacks on that, as tests.

pub mod caps;
pub mod cgroup;
pub mod clone;
pub mod clone_caller;
pub mod clone_signals;
pub mod ipc;
pub mod limits;
pub mod mount;
pub mod net;
pub mod overlay;
pub mod pid;
pub mod privilege;
pub mod replay;
pub mod root_started;
pub mod seccomp;
pub mod step;
pub mod terminal;
pub mod time;
pub mod tmp;
pub mod user;
pub mod uts;
pub mod watch;
pub mod wording;

pub use privilege::{
    installed_or_skip, is_real_root, is_root, nobody_with_path, reachable_by_nobody, real_root_or_skip,
    root_or_skip, RealRoot, NOBODY, SYSTEM_PATH,
};
pub use step::{
    children, namespaces, note_started, one_error_line, rootfs, run, run_with_env, sh, started_here, Out,
    Running, Step, WAIT_FOR_STDIN,
};
pub use tmp::{fresh_dir, fresh_dir_for_nobody};
