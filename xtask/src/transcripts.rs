//! `cargo xtask transcripts`: run the commands in `book/transcripts/NAME.txt` and write what
//! they print to `book/src/transcripts/NAME.txt`, for the book to include.
//!
//! A script is a list of commands, one per line, each starting with `$ `, exactly as a
//! learner types them. Lines starting with `#` are notes for the reader of the script. Two
//! directives change how the script runs; both are shown in the output, so nothing is hidden:
//!
//! - `%as nobody`: run every command as the ordinary user `nobody` (uid 65534), to show a step
//!   that needs no root, or what happens without it. Such a script must begin with `$ whoami`,
//!   so that the transcript says who ran it.
//! - `%session COMMAND`: run the commands in a shell that COMMAND starts, and show
//!   `$ COMMAND` first; e.g. `sudo unshare --net bash`, a throwaway network namespace.
//! - `%cgroups LAYOUT...`: what the script prints depends on how the machine mounts its
//!   cgroups (`hybrid`, `v2`): it is recorded on each (`NAME.hybrid.txt`, `NAME.v2.txt`; the v2
//!   one in tools/vm-test's VM), and the book's test compares the one that matches the machine.
//!
//! All the commands of a script run one after the other in one `bash`, in a scratch directory
//! holding `target/debug/` (copies of the step binaries) and `tools/`, so that the paths read
//! as they do in the workspace. stdout and stderr go into one pipe, as on a terminal. The
//! environment is a minimal one (PATH, HOME=/, LC_ALL=C), the same on every machine, and with
//! nothing of root's for the scripts that run as nobody.
//!
//! The transcripts are made as root. `sudo` there is a stand-in that runs its command
//! directly (root needs no sudo, and CI machines have none installed).
//!
//! The scratch directory is made new by mkdtemp (`crate::TempDir`), and only the scripts
//! run as nobody may read it. Each script runs in a process group of its own, which is ended
//! once the script is done, with every container it left; and if we are asked to stop
//! (Ctrl-C, SIGTERM, SIGHUP) while it runs, the group is ended and the scratch directory
//! removed before we stop.
//!
//! What changes from run to run is replaced ([`normalise`]): the host's hostname (on a line of its
//! own) by `<hostname>`, host PIDs by `<pid>` (also in a cgroup's name, `step08-cgroup-<pid>`), namespace
//! inode numbers by `ns-1`, `ns-2`... in order of appearance (so equal stays equal), MAC
//! addresses, interface indexes, ping times, IPC keys, and the kernel's number of capabilities
//! (`all <N> capabilities`). And one race is settled: the parent's
//! `started container` line and the child's `running as PID` line come in either order, and
//! are shown parent first ([`settle_race`]).
//!
//! The parts: [`script`] (parsing, file names, the machine's cgroup layout), [`runner`] (the
//! scratch directory, the shell, stopping), [`normalise`] (the transcript from the output).
//! Callers: `cargo xtask transcripts` (xtask/src/main.rs), xtask/tests/book.rs and attacks.rs.

pub mod normalise;
pub mod runner;
pub mod script;

pub use normalise::{normalise, render, settle_race};
pub use runner::{default_bin_dir, run};
pub use script::{cgroup_layout, output_dir, parse, scripts, scripts_dir, Script, LAYOUTS};
