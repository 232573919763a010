//! `cargo xtask doctor`: which steps run on this machine, as you, with sudo, and in
//! `cargo xtask sandbox`; for each that cannot, why, and the exact command that fixes it.
//!
//! It works in two halves:
//! - [`look`] gathers the facts: the sysctls that decide user namespaces, the signs of a
//!   container or of WSL, the cgroup and mount setup, the kernel, the tools in PATH; and it
//!   *tries* each namespace for real, with util-linux `unshare` in a child process (never in
//!   this process), as you and as root, and a seccomp filter, in a child process too;
//! - [`assess`] turns those facts into the table and the findings. It reads nothing and runs
//!   nothing, so the tests can feed it machines this one is not: Ubuntu with AppArmor, WSL 1,
//!   a Docker container.
//!
//! Its files: `needs.rs` (what each step needs), `machine.rs` (the facts, as one value),
//! `look.rs` (looking and probing), `assess.rs` and `findings.rs` (deciding, and what to do),
//! `report.rs` (what is printed). Called by `main.rs`; `sandbox.rs` uses `look` and `assess`
//! to explain why it cannot start, and `reset.rs` the steps' names.

mod assess;
mod findings;
mod look;
mod machine;
mod needs;
mod report;

pub use assess::{assess, why_user_namespaces_fail};
pub use look::{cgroups, look, look_without_probes, probe, root_shared, wsl};
pub use machine::{kernel_version, Cgroups, Machine, Outcome, Sudo};
pub use needs::{Needs, Probe, APPARMOR_PROFILE, NEEDS, TOOLS};
pub use report::{Cell, Finding, Report, Row};

/// `cargo xtask doctor`: look, assess, print.
pub fn run() -> anyhow::Result<()> {
    use std::io::Write;
    // A closed stdout (`cargo xtask doctor | head`) is not an error; print! would panic.
    let _ = write!(std::io::stdout().lock(), "{}", assess(&look()));
    Ok(())
}
