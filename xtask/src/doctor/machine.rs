//! The facts doctor decides from, as one value, [`Machine`]: filled in by `look.rs` on this
//! machine, or written by a test for another (Ubuntu with AppArmor, WSL 1, a container).
//!
//! Read by `assess.rs`, `findings.rs` and `report.rs`, which never look at the machine itself.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::needs::{Probe, NEEDS};

/// How a probe ended: `Err` holds what `unshare` said (its last line of stderr).
pub type Outcome = Result<(), String>;

/// Whether sudo can run things for us.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sudo {
    /// We run as root already (doctor was started as root, or through sudo).
    NotNeeded,
    /// `sudo -n true` worked: doctor tried the namespaces through it.
    Works,
    /// sudo wants a password, which doctor does not ask for: the column is left untried.
    NeedsPassword,
    /// sudo is installed, but refused (`sudo -n true` said why).
    Refused(String),
    /// No sudo in PATH.
    Missing,
}

/// Which cgroup hierarchy is mounted at /sys/fs/cgroup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cgroups {
    V1,
    V2,
    /// v1 controllers, and v2 at /sys/fs/cgroup/unified (systemd's "hybrid" mode).
    Hybrid,
    Unknown,
}

/// Everything `assess` decides from: what `look` found on this machine, or what a test
/// recorded on another.
#[derive(Clone, Debug)]
pub struct Machine {
    /// Who "you" are: the user who ran doctor, or who ran sudo (`SUDO_UID`): "alice (uid 1000)".
    pub you: String,
    /// You have CAP_SYS_ADMIN: you are root, or root in a user namespace (the sandbox).
    pub you_are_root: bool,
    /// Doctor runs as root in the host's user namespace: its fixes need no `sudo`.
    pub root_on_the_host: bool,
    /// Doctor runs inside a user namespace: /proc/self/uid_map is not the identity.
    pub uid_map: Option<String>,
    pub sudo: Sudo,
    /// The probes, run as you.
    pub as_you: BTreeMap<Probe, Outcome>,
    /// The probes, run as root; empty when doctor could not run them (see `sudo`).
    pub as_root: BTreeMap<Probe, Outcome>,
    /// /proc is mounted (/proc/self exists).
    pub proc_mounted: bool,
    /// `user.max_user_namespaces`; `None` if the file is not there.
    pub max_user_namespaces: Option<i64>,
    /// `kernel.unprivileged_userns_clone`: a Debian and Ubuntu kernel patch, not in mainline Linux.
    pub unprivileged_userns_clone: Option<i64>,
    /// `kernel.apparmor_restrict_unprivileged_userns` (Ubuntu 23.10 and later).
    pub apparmor_restrict: Option<i64>,
    /// Our profile is installed at [`APPARMOR_PROFILE`](super::needs::APPARMOR_PROFILE).
    pub apparmor_profile_installed: bool,
    /// `Seccomp:` in /proc/self/status: 0 none, 1 strict, 2 a filter (Docker's default).
    pub seccomp: Option<u32>,
    pub dockerenv: bool,
    pub containerenv: bool,
    /// 1 or 2 under WSL, from /proc/version.
    pub wsl: Option<u8>,
    pub cgroups: Cgroups,
    /// `/` is a shared mount (`shared:N` on its line of /proc/self/mountinfo).
    pub root_shared: Option<bool>,
    /// The kernel release, `6.8.0-45-generic`.
    pub kernel: Option<String>,
    /// The kernel loads modules (/proc/modules exists); without, all it has is built in.
    pub kernel_loads_modules: bool,
    /// /lib/modules/RELEASE exists: the running kernel's modules are installed. It is missing
    /// after a kernel upgrade until the reboot, and in minimal images.
    pub modules_installed: Option<bool>,
    /// The tools of [`TOOLS`](super::needs::TOOLS) that are not in PATH.
    pub missing_tools: Vec<String>,
    /// The tools of `TOOLS` that are installed, in a directory not in PATH: `/usr/sbin/capsh`.
    pub tools_outside_path: Vec<String>,
    /// The `stepNN-*` directories of the workspace.
    pub steps: Vec<String>,
    /// The workspace's target directory, for the AppArmor profile.
    pub target_dir: PathBuf,
    /// How to run doctor again, e.g. `/home/alice/ns/target/debug/xtask doctor`.
    pub doctor_command: String,
}

impl Machine {
    /// An ordinary, healthy machine seen by an ordinary user: the starting point of the tests'
    /// recorded machines, which change what they are about.
    pub fn example() -> Machine {
        let all_ok = |probes: &[Probe]| probes.iter().map(|p| (*p, Ok(()))).collect();
        Machine {
            you: "alice (uid 1000)".into(),
            you_are_root: false,
            root_on_the_host: false,
            uid_map: None,
            sudo: Sudo::Works,
            as_you: all_ok(&[Probe::User, Probe::Sandbox, Probe::Bridge, Probe::Overlay, Probe::Seccomp]),
            as_root: all_ok(&Probe::ALL),
            proc_mounted: true,
            max_user_namespaces: Some(63_000),
            unprivileged_userns_clone: None,
            apparmor_restrict: None,
            apparmor_profile_installed: false,
            seccomp: Some(0),
            dockerenv: false,
            containerenv: false,
            wsl: None,
            cgroups: Cgroups::V2,
            root_shared: Some(true),
            kernel: Some("6.8.0-45-generic".into()),
            kernel_loads_modules: true,
            modules_installed: Some(true),
            missing_tools: Vec::new(),
            tools_outside_path: Vec::new(),
            steps: NEEDS.iter().filter(|n| n.name.starts_with("step")).map(|n| n.name.to_string()).collect(),
            target_dir: PathBuf::from("/home/alice/namespaces/target"),
            doctor_command: "/home/alice/namespaces/target/debug/xtask doctor".into(),
        }
    }
}

/// "6.8.0-45-generic" -> (6, 8).
pub fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}
