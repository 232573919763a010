//! `cargo xtask doctor`: which steps run on this machine, as you, with sudo, and in
//! `cargo xtask sandbox`; for each that cannot, why, and the exact command that fixes it.
//!
//! It works in two halves:
//! - [`look`] gathers the facts: the sysctls that decide user namespaces, the signs of a
//!   container or of WSL, the cgroup and mount setup, the kernel, the tools in PATH; and it
//!   *tries* each namespace for real, with util-linux `unshare` in a child process (never in
//!   this process), as you and as root;
//! - [`assess`] turns those facts into the table and the findings. It reads nothing and runs
//!   nothing, so the tests can feed it machines this one is not: Ubuntu with AppArmor, WSL 1,
//!   a Docker container.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

// --- What each step needs ---------------------------------------------------------------------

/// Something doctor tries for real: `unshare FLAGS true`, in a child process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Probe {
    Uts,
    Ipc,
    Pid,
    /// A mount namespace with a /proc of its own, as step05 mounts.
    Mount,
    /// What step06 does: a user namespace first, root inside it, then the others in it.
    User,
    /// What step07 and `cargo xtask sandbox` do: the same, with a network namespace too.
    Sandbox,
}

impl Probe {
    pub const ALL: [Probe; 6] =
        [Probe::Uts, Probe::Ipc, Probe::Pid, Probe::Mount, Probe::User, Probe::Sandbox];

    /// The `unshare` flags that make the namespaces this probe tries.
    pub fn flags(self) -> &'static [&'static str] {
        match self {
            Probe::Uts => &["--uts"],
            Probe::Ipc => &["--ipc"],
            Probe::Pid => &["--pid", "--fork"],
            Probe::Mount => &["--mount", "--propagation", "private", "--pid", "--fork", "--mount-proc"],
            Probe::User => &[
                "--user",
                "--map-root-user",
                "--uts",
                "--ipc",
                "--mount",
                "--propagation",
                "private",
                "--pid",
                "--fork",
                "--mount-proc",
            ],
            Probe::Sandbox => crate::sandbox::UNSHARE_FLAGS,
        }
    }

    /// Whether the probe makes a user namespace, which an ordinary user may do without root.
    fn makes_user_namespace(self) -> bool {
        matches!(self, Probe::User | Probe::Sandbox)
    }
}

/// What one program of the workspace needs to run.
pub struct Needs {
    pub name: &'static str,
    /// The namespaces it makes, as probes.
    pub probes: &'static [Probe],
    /// It refuses to start without CAP_SYS_ADMIN (steps 02-05: no user namespace of their own).
    pub root: bool,
    /// One line: what it needs, for the table's last column.
    pub why: &'static str,
}

/// Every program of the workspace, in the book's order. A `stepNN-*` directory that is not
/// here gets a row of `?`: add it here when you add the step.
pub const NEEDS: &[Needs] = &[
    Needs { name: "step01-clone", probes: &[], root: false, why: "clone() only: no namespace" },
    Needs { name: "step02-uts", probes: &[Probe::Uts], root: true, why: "CAP_SYS_ADMIN: a UTS namespace" },
    Needs {
        name: "step03-ipc",
        probes: &[Probe::Uts, Probe::Ipc],
        root: true,
        why: "CAP_SYS_ADMIN: UTS, IPC namespaces",
    },
    Needs {
        name: "step04-pid",
        probes: &[Probe::Uts, Probe::Ipc, Probe::Pid],
        root: true,
        why: "CAP_SYS_ADMIN: UTS, IPC, PID namespaces",
    },
    Needs {
        name: "step05-mount",
        probes: &[Probe::Uts, Probe::Ipc, Probe::Pid, Probe::Mount],
        root: true,
        why: "CAP_SYS_ADMIN: UTS, IPC, PID, mount namespaces",
    },
    Needs { name: "step06-user", probes: &[Probe::User], root: false, why: "user namespaces, no root" },
    Needs {
        name: STEP07,
        probes: &[Probe::Sandbox],
        root: false,
        why: "user namespaces; its bridge: CAP_NET_ADMIN on the host",
    },
    Needs {
        name: "step08-cgroup",
        probes: &[Probe::Sandbox],
        root: false,
        why: "as step07; --pids-max: a cgroup of its own, as the host's root or in a delegated subtree (not in the sandbox)",
    },
    Needs {
        name: "step09-time",
        probes: &[Probe::Sandbox],
        root: false,
        why: "as step08; a time namespace: Linux 5.6",
    },
    Needs {
        name: "step10-limits",
        probes: &[Probe::Sandbox],
        root: false,
        why: "as step09; --memory, --cpus: a cgroup of its own, as the host's root (without, no limits)",
    },
    Needs {
        name: SETNS_ENTER,
        probes: &[Probe::User],
        root: false,
        why: "joins your step06/07 containers; those of steps 02-05 need root",
    },
];

const STEP07: &str = "step07-net";
/// The steps whose containers go on a bridge: as an ordinary user, `lo` only.
const BRIDGED: [&str; 4] = [STEP07, "step08-cgroup", "step09-time", "step10-limits"];
const SETNS_ENTER: &str = "setns-enter";

/// The tools the chapters use, the package each comes in (Debian and Ubuntu), and where.
pub const TOOLS: &[(&str, &str, &str)] = &[
    ("unshare", "util-linux", "cargo xtask sandbox, doctor, every chapter"),
    ("nsenter", "util-linux", "chapters 2-7: looking inside from outside"),
    ("setpriv", "util-linux", "doctor and the tests: running as another user"),
    ("lsns", "util-linux", "chapters 1-3"),
    ("findmnt", "util-linux", "chapter 5"),
    ("ipcmk", "util-linux", "chapter 3"),
    ("ipcs", "util-linux", "chapter 3"),
    ("ps", "procps", "every chapter"),
    ("pgrep", "procps", "chapters 1, 3, 4, 7"),
    ("ip", "iproute2", "step07 makes its bridge and veths with it"),
    ("ping", "iputils-ping", "chapters 6, 7"),
    ("strace", "strace", "the benchmarks appendix"),
    ("nc", "netcat-openbsd", "chapter 7"),
    ("mdbook", "", "building the book"),
];

const MDBOOK_INSTALL: &str =
    "cargo install mdbook --locked --version 0.5.4 --no-default-features --features search";

/// The AppArmor profile's name, and where doctor tells you to install it.
pub const APPARMOR_PROFILE: &str = "/etc/apparmor.d/namespaces-tutorial";

// --- The facts ------------------------------------------------------------------------------

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

/// Everything [`assess`] decides from: what [`look`] found on this machine, or what a test
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
    /// Our profile is installed at [`APPARMOR_PROFILE`].
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
    /// The tools of [`TOOLS`] that are not in PATH.
    pub missing_tools: Vec<String>,
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
            as_you: all_ok(&[Probe::User, Probe::Sandbox]),
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
            missing_tools: Vec::new(),
            steps: NEEDS.iter().filter(|n| n.name.starts_with("step")).map(|n| n.name.to_string()).collect(),
            target_dir: PathBuf::from("/home/alice/namespaces/target"),
            doctor_command: "/home/alice/namespaces/target/debug/xtask doctor".into(),
        }
    }
}

/// `cargo xtask doctor`: look, assess, print.
pub fn run() -> anyhow::Result<()> {
    use std::io::Write;
    // A closed stdout (`cargo xtask doctor | head`) is not an error; print! would panic.
    let _ = write!(std::io::stdout().lock(), "{}", assess(&look()));
    Ok(())
}

/// Gather the facts, and run the probes.
pub fn look() -> Machine {
    let mut machine = look_without_probes();
    if machine.sudo != Sudo::NotNeeded {
        machine.sudo = sudo();
    }
    let you = invoking_user();
    // As you: through setpriv if we are root because of sudo, so that "as you" means you.
    let as_you_prefix: Vec<String> = match you {
        Some((uid, gid)) => {
            ["setpriv", &format!("--reuid={uid}"), &format!("--regid={gid}"), "--clear-groups"]
                .map(String::from)
                .to_vec()
        }
        None => Vec::new(),
    };
    // An ordinary user may try only what needs no root: the user namespaces.
    let yours: &[Probe] = if machine.you_are_root { &Probe::ALL } else { &[Probe::User, Probe::Sandbox] };
    machine.as_you = yours.iter().map(|&p| (p, probe(&as_you_prefix, p))).collect();
    machine.as_root = match machine.sudo {
        _ if machine.you_are_root => machine.as_you.clone(),
        Sudo::NotNeeded => Probe::ALL.iter().map(|&p| (p, probe(&[], p))).collect(),
        Sudo::Works => Probe::ALL.iter().map(|&p| (p, probe(&["sudo".into(), "-n".into()], p))).collect(),
        _ => BTreeMap::new(),
    };
    machine
}

/// The facts that need no probe: files, sysctls, PATH. The sandbox uses them to explain a failure.
pub fn look_without_probes() -> Machine {
    let root = crate::workspace();
    let euid_root = nix::unistd::geteuid().is_root();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid_map = std::fs::read_to_string("/proc/self/uid_map").ok();
    // "0 0 4294967295": every uid maps to itself; that is the host's user namespace.
    let identity = uid_map
        .as_deref()
        .map_or(true, |m| m.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"]);
    let you = invoking_user();
    let sys_admin = capability(&status, 21).unwrap_or(euid_root); // CAP_SYS_ADMIN is bit 21
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let exe = std::env::current_exe().ok();
    let target_dir = exe
        .as_deref()
        .and_then(|e| e.parent()?.parent())
        .filter(|t| t.file_name().is_some_and(|n| n == "target") || t.join("debug").is_dir())
        .map_or_else(|| root.join("target"), Path::to_path_buf);
    let doctor = exe.map_or_else(|| "cargo xtask".to_string(), |e| e.display().to_string());
    Machine {
        you: match you {
            Some((uid, _)) => format!("{}, through sudo", user_name(uid)),
            None => user_name(nix::unistd::geteuid().as_raw()),
        },
        you_are_root: sys_admin && you.is_none(),
        root_on_the_host: euid_root && identity,
        uid_map: if identity {
            None
        } else {
            uid_map.map(|m| m.split_whitespace().collect::<Vec<_>>().join(" "))
        },
        // Asking sudo is left to look(): this is also what the sandbox uses to explain a failure.
        sudo: if euid_root { Sudo::NotNeeded } else { Sudo::Missing },
        as_you: BTreeMap::new(),
        as_root: BTreeMap::new(),
        proc_mounted: Path::new("/proc/self").exists(),
        max_user_namespaces: sysctl("user/max_user_namespaces"),
        unprivileged_userns_clone: sysctl("kernel/unprivileged_userns_clone"),
        apparmor_restrict: sysctl("kernel/apparmor_restrict_unprivileged_userns"),
        apparmor_profile_installed: Path::new(APPARMOR_PROFILE).exists(),
        seccomp: field(&status, "Seccomp:").and_then(|v| v.parse().ok()),
        dockerenv: Path::new("/.dockerenv").exists(),
        containerenv: Path::new("/run/.containerenv").exists(),
        wsl: wsl(&std::fs::read_to_string("/proc/version").unwrap_or_default()),
        cgroups: cgroups(&mountinfo),
        root_shared: root_shared(&mountinfo),
        kernel: kernel_release(),
        missing_tools: TOOLS.iter().filter(|(t, ..)| !in_path(t)).map(|(t, ..)| t.to_string()).collect(),
        steps: crate::steps(&root).unwrap_or_default(),
        target_dir,
        doctor_command: format!("{doctor} doctor"),
    }
}

/// Run one probe, `[PREFIX...] unshare FLAGS true`, in a child process.
pub fn probe(prefix: &[String], probe: Probe) -> Outcome {
    let mut argv: Vec<&str> = prefix.iter().map(String::as_str).collect();
    argv.push("unshare");
    argv.extend(probe.flags());
    argv.push("true");
    let out = Command::new(argv[0]).args(&argv[1..]).stdin(Stdio::null()).output();
    match out {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            Err(format!("{} is not installed", argv[0]))
        }
        Err(err) => Err(format!("could not run {}: {err}", argv[0])),
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            Err(stderr.lines().last().unwrap_or("failed, and said nothing").trim().to_string())
        }
    }
}

/// The user and group who ran sudo, if doctor runs as root because of sudo.
fn invoking_user() -> Option<(u32, u32)> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    let uid: u32 = std::env::var("SUDO_UID").ok()?.parse().ok()?;
    let gid: u32 = std::env::var("SUDO_GID").ok()?.parse().ok()?;
    (uid != 0).then_some((uid, gid))
}

/// "alice (uid 1000)", or "uid 1000" for a uid with no name in /etc/passwd.
fn user_name(uid: u32) -> String {
    match nix::unistd::User::from_uid(uid.into()) {
        Ok(Some(user)) => format!("{} (uid {uid})", user.name),
        _ => format!("uid {uid}"),
    }
}

/// Whether capability number `bit` is in `CapEff:` of /proc/self/status.
fn capability(status: &str, bit: u32) -> Option<bool> {
    let caps = u64::from_str_radix(field(status, "CapEff:")?, 16).ok()?;
    Some(caps & (1 << bit) != 0)
}

/// The value after `name` on its line of a /proc file such as /proc/self/status.
fn field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines().find_map(|l| l.strip_prefix(name)).map(str::trim)
}

/// A number from /proc/sys/NAME, if the file is there.
fn sysctl(name: &str) -> Option<i64> {
    std::fs::read_to_string(Path::new("/proc/sys").join(name)).ok()?.trim().parse().ok()
}

/// What `sudo -n true` says: `-n` makes sudo fail rather than ask for a password.
fn sudo() -> Sudo {
    let out = Command::new("sudo").args(["-n", "true"]).stdin(Stdio::null()).output();
    match out {
        Err(_) => Sudo::Missing,
        Ok(out) if out.status.success() => Sudo::Works,
        Ok(out) => {
            let said = String::from_utf8_lossy(&out.stderr).trim().to_string();
            if said.contains("password") {
                Sudo::NeedsPassword
            } else {
                Sudo::Refused(said)
            }
        }
    }
}

/// WSL 1 or 2, from /proc/version: "...-Microsoft" (WSL 1), "...-microsoft-standard-WSL2".
pub fn wsl(version: &str) -> Option<u8> {
    if version.contains("WSL2") {
        Some(2)
    } else if version.to_lowercase().contains("microsoft") {
        Some(1)
    } else {
        None
    }
}

/// Each line of /proc/self/mountinfo as its mount point, its filesystem type, and the part
/// before " - " (where the optional fields, such as `shared:1`, are); see proc(5).
fn mounts(mountinfo: &str) -> impl Iterator<Item = (&str, &str, &str)> {
    mountinfo.lines().filter_map(|line| {
        let (before, after) = line.split_once(" - ")?;
        let fields: Vec<&str> = before.split(' ').collect();
        let fstype = after.split(' ').next()?;
        Some((*fields.get(4)?, fstype, before))
    })
}

/// Which cgroup hierarchy /proc/self/mountinfo shows at /sys/fs/cgroup.
pub fn cgroups(mountinfo: &str) -> Cgroups {
    let fstype = |at: &str| mounts(mountinfo).filter(|(m, ..)| *m == at).map(|(_, t, _)| t).last();
    match (fstype("/sys/fs/cgroup"), fstype("/sys/fs/cgroup/unified")) {
        (Some("cgroup2"), _) => Cgroups::V2,
        (Some("tmpfs"), Some("cgroup2")) => Cgroups::Hybrid,
        (Some("tmpfs"), _) => Cgroups::V1,
        _ => Cgroups::Unknown,
    }
}

/// Whether `/` is a shared mount: its line has an optional field `shared:N`.
pub fn root_shared(mountinfo: &str) -> Option<bool> {
    let (.., before) = mounts(mountinfo).filter(|(m, ..)| *m == "/").last()?;
    Some(before.split(' ').skip(6).any(|f| f.starts_with("shared:")))
}

/// The kernel release: /proc/sys/kernel/osrelease, or `uname -r` where /proc is not mounted.
fn kernel_release() -> Option<String> {
    if let Ok(release) = std::fs::read_to_string("/proc/sys/kernel/osrelease") {
        return Some(release.trim().to_string());
    }
    let out = Command::new("uname").arg("-r").output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string()).filter(|r| !r.is_empty())
}

/// "6.8.0-45-generic" -> (6, 8).
pub fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

fn in_path(tool: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| dir.join(tool).is_file())
}

// --- The decision ---------------------------------------------------------------------------

/// One cell of the table: can this step run, as whom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    Yes,
    /// step07 without CAP_NET_ADMIN on the host: it runs, with `lo` only.
    LoOnly,
    /// It needs root, which you are not (steps 02-05).
    NeedsRoot,
    /// It cannot run: finding number N says why and how to fix it.
    No(usize),
    /// Doctor did not try (sudo asks for a password).
    Untried,
    /// There is no sudo to try with.
    NoSudo,
    /// A step doctor does not know (not in [`NEEDS`]).
    Unknown,
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Cell::Yes => f.write_str("yes"),
            Cell::LoOnly => f.write_str("lo only"),
            Cell::NeedsRoot => f.write_str("needs root"),
            Cell::No(n) => write!(f, "no, see {n}"),
            Cell::Untried => f.write_str("untried"),
            Cell::NoSudo => f.write_str("no sudo"),
            Cell::Unknown => f.write_str("?"),
        }
    }
}

/// One row of the table.
#[derive(Clone, Debug)]
pub struct Row {
    pub step: String,
    pub as_you: Cell,
    pub with_sudo: Cell,
    pub in_sandbox: Cell,
    pub why: String,
}

/// Something that stops a step here, or that you should know, with the commands that fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub title: String,
    pub lines: Vec<String>,
    /// Commands, ready to paste.
    pub fixes: Vec<String>,
}

/// What doctor prints: who you are, the table, facts about the machine, and the findings.
#[derive(Clone, Debug)]
pub struct Report {
    pub you: String,
    pub rows: Vec<Row>,
    pub facts: Vec<(String, String)>,
    pub findings: Vec<Finding>,
}

/// The reasons doctor knows for a probe to fail; each becomes one finding.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Cause {
    NoProc,
    Wsl1,
    UserNamespacesOff,
    UnprivilegedOff,
    AppArmor,
    Container,
    /// Tools the chapters use are not installed (step07 cannot run without `ip`).
    ToolsMissing,
    /// A failure doctor cannot explain: the probe and what unshare said.
    Unexplained(Probe, String),
}

/// Who a probe ran as, which decides the causes that may apply.
#[derive(Clone, Copy, PartialEq, Eq)]
enum As {
    /// You, without CAP_SYS_ADMIN.
    User,
    /// Root: you, if you are root, or sudo.
    Root,
}

/// Decide, from the facts alone, what runs where and what to do about the rest.
pub fn assess(m: &Machine) -> Report {
    let mut causes: Vec<Cause> = Vec::new();
    let mut rows = Vec::new();
    let you_as = if m.you_are_root { As::Root } else { As::User };
    // The sandbox: root in a user namespace of yours, if you may make one with a network.
    let sandbox = m.as_you.get(&Probe::Sandbox);
    for needs in NEEDS {
        let as_you = cell(m, needs, you_as, &m.as_you, &mut causes);
        let with_sudo = if m.you_are_root {
            as_you.clone()
        } else {
            match &m.sudo {
                Sudo::Works | Sudo::NotNeeded => cell(m, needs, As::Root, &m.as_root, &mut causes),
                Sudo::NeedsPassword => Cell::Untried,
                Sudo::Refused(_) | Sudo::Missing => Cell::NoSudo,
            }
        };
        let in_sandbox = match sandbox {
            Some(Ok(())) => {
                let all_ok: BTreeMap<Probe, Outcome> = Probe::ALL.iter().map(|p| (*p, Ok(()))).collect();
                cell(m, needs, As::Root, &all_ok, &mut causes)
            }
            Some(Err(err)) => Cell::No(number(&mut causes, cause(m, Probe::Sandbox, you_as, err))),
            None => Cell::Untried,
        };
        rows.push(Row {
            step: needs.name.to_string(),
            as_you,
            with_sudo,
            in_sandbox,
            why: needs.why.to_string(),
        });
    }
    for step in m.steps.iter().filter(|s| !NEEDS.iter().any(|n| n.name == s.as_str())) {
        rows.insert(
            rows.len() - 1, // before setns-enter, with the steps
            Row {
                step: step.clone(),
                as_you: Cell::Unknown,
                with_sudo: Cell::Unknown,
                in_sandbox: Cell::Unknown,
                why: "doctor does not know this step yet: add it to NEEDS in xtask/src/doctor.rs".into(),
            },
        );
    }
    let packaged_tool_missing =
        m.missing_tools.iter().any(|t| TOOLS.iter().any(|(n, p, _)| n == t && !p.is_empty()));
    if packaged_tool_missing {
        number(&mut causes, Cause::ToolsMissing);
    }
    let mut findings: Vec<Finding> = causes.iter().map(|c| finding(m, c)).collect();
    findings.extend(advice(m));
    Report { you: m.you.clone(), rows, facts: facts(m), findings }
}

/// One cell: whether the step `needs` runs as `who`, given the probes that ran as `who`.
fn cell(
    m: &Machine,
    needs: &Needs,
    who: As,
    outcomes: &BTreeMap<Probe, Outcome>,
    causes: &mut Vec<Cause>,
) -> Cell {
    if needs.root && who == As::User {
        return Cell::NeedsRoot;
    }
    // setns-enter makes no namespace: as root it joins any container, through /proc/PID/ns; as
    // you, only yours, which exist where you may make a user namespace (step06, step07).
    let probes = if needs.name == SETNS_ENTER && who == As::Root { &[][..] } else { needs.probes };
    if needs.name == SETNS_ENTER && !m.proc_mounted {
        return Cell::No(number(causes, Cause::NoProc));
    }
    // Our AppArmor profile lets the steps make user namespaces, but not unshare, which the
    // probes run: trust the profile for the steps.
    let profile_allows = who == As::User && m.apparmor_restrict == Some(1) && m.apparmor_profile_installed;
    for p in probes {
        match outcomes.get(p) {
            Some(Ok(())) => {}
            Some(Err(_)) if profile_allows && p.makes_user_namespace() => {}
            Some(Err(err)) => return Cell::No(number(causes, cause(m, *p, who, err))),
            None => return Cell::Untried,
        }
    }
    // Steps 07 on put the container on a bridge, whose host end needs CAP_NET_ADMIN.
    if BRIDGED.contains(&needs.name) && who == As::User {
        return Cell::LoOnly;
    }
    Cell::Yes
}

/// The finding number (from 1) for `cause`, adding it if it is new.
fn number(causes: &mut Vec<Cause>, cause: Cause) -> usize {
    match causes.iter().position(|c| *c == cause) {
        Some(i) => i + 1,
        None => {
            causes.push(cause);
            causes.len()
        }
    }
}

/// Why `probe`, run as `who`, failed with `err`: the first known reason that applies.
fn cause(m: &Machine, probe: Probe, who: As, err: &str) -> Cause {
    if !m.proc_mounted {
        return Cause::NoProc;
    }
    if m.wsl == Some(1) {
        return Cause::Wsl1;
    }
    if probe.makes_user_namespace() {
        if m.max_user_namespaces == Some(0) {
            return Cause::UserNamespacesOff;
        }
        if who == As::User && m.unprivileged_userns_clone == Some(0) {
            return Cause::UnprivilegedOff;
        }
        if who == As::User && m.apparmor_restrict == Some(1) {
            return Cause::AppArmor;
        }
    }
    if m.seccomp == Some(2) || m.dockerenv || m.containerenv {
        return Cause::Container;
    }
    Cause::Unexplained(probe, err.to_string())
}

/// `sudo ` before a command, unless doctor runs as root on the host already.
fn sudo_prefix(m: &Machine) -> &'static str {
    if m.root_on_the_host {
        ""
    } else {
        "sudo "
    }
}

/// The finding for one cause.
fn finding(m: &Machine, cause: &Cause) -> Finding {
    let sudo = sudo_prefix(m);
    match cause {
        Cause::NoProc => Finding {
            title: "/proc is not mounted here".into(),
            lines: vec![
                "step06, step07 and setns-enter write /proc/PID/uid_map or open /proc/PID/ns; unshare \
                 needs it too"
                    .into(),
            ],
            fixes: vec![format!("{sudo}mount -t proc proc /proc")],
        },
        Cause::Wsl1 => Finding {
            title:
                "this is WSL 1, which has no namespaces: it translates Linux calls, it runs no Linux kernel"
                    .into(),
            lines: vec!["WSL 2 runs a real Linux kernel, where every step works".into()],
            fixes: vec![
                "wsl --list --verbose                  # in Windows PowerShell: the distribution's name"
                    .into(),
                "wsl --set-version <distribution> 2    # in Windows PowerShell".into(),
            ],
        },
        Cause::UserNamespacesOff => Finding {
            title: "user namespaces are disabled: user.max_user_namespaces is 0".into(),
            lines: vec![
                "step06, step07, setns-enter and the sandbox make user namespaces; the limit stops root too"
                    .into(),
            ],
            fixes: sysctl_fixes(m, "user.max_user_namespaces", "15000"),
        },
        Cause::UnprivilegedOff => Finding {
            title: "unprivileged user namespaces are disabled: kernel.unprivileged_userns_clone is 0".into(),
            lines: vec!["root may still make them: step06 and step07 run with sudo".into()],
            fixes: sysctl_fixes(m, "kernel.unprivileged_userns_clone", "1"),
        },
        Cause::AppArmor => apparmor(m),
        Cause::Container => Finding {
            title: container_title(m),
            lines: vec![
                "a container's runtime forbids namespaces by default: Docker's seccomp profile refuses \
                 unshare() and clone() with namespace flags, and it drops CAP_SYS_ADMIN"
                    .into(),
                "run the workspace on the host, or in a virtual machine; or start the container with:".into(),
            ],
            fixes: vec![
                "docker run --security-opt seccomp=unconfined --cap-add SYS_ADMIN --cap-add NET_ADMIN ..."
                    .into(),
                "docker run --privileged ...    # everything: only on a machine you can throw away".into(),
            ],
        },
        Cause::ToolsMissing => tools_finding(m),
        Cause::Unexplained(probe, err) => Finding {
            title: format!("unshare {} failed: {err}", probe.flags().join(" ")),
            lines: vec!["doctor does not know why; try the command yourself, and look at dmesg".into()],
            fixes: vec![],
        },
    }
}

/// Set a sysctl now, and in /etc/sysctl.d so that it stays after a reboot.
fn sysctl_fixes(m: &Machine, name: &str, value: &str) -> Vec<String> {
    let sudo = sudo_prefix(m);
    vec![
        format!("{sudo}sysctl -w {name}={value}"),
        format!("echo {name}={value} | {sudo}tee -a /etc/sysctl.d/60-namespaces-tutorial.conf   # and after a reboot"),
    ]
}

fn container_title(m: &Machine) -> String {
    let mut signs = Vec::new();
    if m.dockerenv {
        signs.push("/.dockerenv exists".to_string());
    }
    if m.containerenv {
        signs.push("/run/.containerenv exists".to_string());
    }
    if m.seccomp == Some(2) {
        signs.push("a seccomp filter is on (Seccomp: 2)".to_string());
    }
    format!("this looks like a container ({}), and it forbids namespaces", signs.join(", "))
}

/// Ubuntu 23.10 and later: AppArmor lets an unprivileged process make a user namespace, but
/// takes away its capabilities inside, unless an AppArmor profile allows `userns`.
fn apparmor(m: &Machine) -> Finding {
    let target = m.target_dir.display().to_string();
    let attach = format!("{target}/{{debug,release}}/{{step[0-9][0-9]-*,setns-enter}}");
    let attach = if attach.contains(char::is_whitespace) { format!("\"{attach}\"") } else { attach };
    // The upstream profiles for programs that need user namespaces have this shape: no
    // confinement (flags=(unconfined)), and the one permission the restriction takes away.
    let profile = format!(
        "# Let this workspace's steps make user namespaces (written by cargo xtask doctor).\n\
         abi <abi/4.0>,\ninclude <tunables/global>\n\n\
         profile namespaces-tutorial {attach} flags=(unconfined) {{\n  userns,\n}}"
    );
    let sudo = sudo_prefix(m);
    Finding {
        title: "AppArmor denies capabilities in a user namespace made by an ordinary user \
                (kernel.apparmor_restrict_unprivileged_userns is 1, as from Ubuntu 23.10)"
            .into(),
        lines: vec![
            "fix it for the whole machine with the sysctl; or for this workspace's steps only, with a \
             profile that allows them user namespaces (paste the lines under it as they are)"
                .into(),
            "the profile does not cover unshare, so the sandbox still needs the sysctl".into(),
        ],
        fixes: [
            sysctl_fixes(m, "kernel.apparmor_restrict_unprivileged_userns", "0"),
            vec![format!(
                "{sudo}tee {APPARMOR_PROFILE} > /dev/null <<'EOF'\n{profile}\nEOF\n\
                 {sudo}apparmor_parser -r {APPARMOR_PROFILE}"
            )],
        ]
        .concat(),
    }
}

/// The tools of [`TOOLS`] that are missing, and the one command that installs them all.
fn tools_finding(m: &Machine) -> Finding {
    let missing: Vec<&(&str, &str, &str)> =
        TOOLS.iter().filter(|(t, p, _)| !p.is_empty() && m.missing_tools.iter().any(|x| x == t)).collect();
    let mut packages: Vec<&str> = missing.iter().map(|(_, p, _)| *p).collect();
    packages.dedup();
    Finding {
        title: format!(
            "not installed: {}",
            missing.iter().map(|(t, p, _)| format!("{t} ({p})")).collect::<Vec<_>>().join(", ")
        ),
        lines: missing.iter().map(|(t, _, used)| format!("{t}: {used}")).collect(),
        fixes: vec![format!("{}apt install {}", sudo_prefix(m), packages.join(" "))],
    }
}

/// Findings that are advice rather than a failure: no sudo, mdbook, an old kernel.
fn advice(m: &Machine) -> Vec<Finding> {
    let mut advice = Vec::new();
    let sandbox_works = matches!(m.as_you.get(&Probe::Sandbox), Some(Ok(())));
    if !m.you_are_root && m.sudo == Sudo::NeedsPassword {
        // sudo asks even users who may not use it, so we cannot tell which you are.
        advice.push(Finding {
            title: "sudo asks for a password, which doctor does not type: the 'with sudo' column is untried"
                .into(),
            lines: vec!["if you may use sudo, run doctor with it; if not, use the sandbox".into()],
            fixes: vec![format!("sudo {}", m.doctor_command), "cargo xtask sandbox".into()],
        });
    }
    if !m.you_are_root && matches!(m.sudo, Sudo::Missing | Sudo::Refused(_)) {
        let why = match &m.sudo {
            Sudo::Refused(said) => format!("sudo refused: {said}"),
            _ => "there is no sudo here".to_string(),
        };
        advice.push(Finding {
            title: format!("{why}: use the sandbox for steps 02-05 and step07's bridge"),
            lines: vec![if sandbox_works {
                "in it you are root over namespaces you own, and every step runs without sudo".into()
            } else {
                "in it you are root over namespaces you own; it needs user namespaces, see above".into()
            }],
            fixes: vec!["cargo xtask sandbox".into()],
        });
    }
    if m.missing_tools.iter().any(|t| t == "mdbook") {
        advice.push(Finding {
            title: "mdbook is not installed: you need it only to build the book".into(),
            lines: vec![],
            fixes: vec![MDBOOK_INSTALL.into()],
        });
    }
    if let Some((major, minor)) = m.kernel.as_deref().and_then(kernel_version) {
        if (major, minor) < (5, 6) {
            advice.push(Finding {
                title: format!("kernel {major}.{minor} is older than 5.6: it has no openat2(2)"),
                lines: vec![
                    "--rootfs (step05 on) refuses to run, as it cannot check the rootfs for symlinks".into(),
                ],
                fixes: vec!["upgrade the kernel to 5.6 or later".into()],
            });
        }
    }
    advice
}

/// The facts about this machine that the table rests on, one line each.
fn facts(m: &Machine) -> Vec<(String, String)> {
    let mut facts = vec![];
    let kernel = match (m.kernel.as_deref(), m.kernel.as_deref().and_then(kernel_version)) {
        (Some(release), Some(version)) => {
            let features = [
                ("openat2 (5.6, for --rootfs)", (5, 6)),
                ("CLOSE_RANGE_CLOEXEC (5.11)", (5, 11)),
                ("time namespaces (5.6, for step09)", (5, 6)),
            ];
            let has: Vec<&str> = features.iter().filter(|(_, at)| version >= *at).map(|(f, _)| *f).collect();
            let lacks: Vec<&str> = features.iter().filter(|(_, at)| version < *at).map(|(f, _)| *f).collect();
            match (has.is_empty(), lacks.is_empty()) {
                (_, true) => format!("{release}: has {}", has.join(", ")),
                (true, _) => format!("{release}: lacks {}", lacks.join(", ")),
                _ => format!("{release}: has {}; lacks {}", has.join(", "), lacks.join(", ")),
            }
        }
        (Some(release), None) => release.to_string(),
        (None, _) => "unknown".into(),
    };
    facts.push(("kernel".into(), kernel));
    // The three sysctls that decide whether an ordinary user may make a user namespace.
    let sysctl = |v: Option<i64>, fine: i64| match v {
        None if !m.proc_mounted => "unknown: /proc is not mounted".to_string(),
        None => "not on this kernel (fine)".to_string(),
        Some(v) if v == fine || (fine > 0 && v > 0) => format!("{v} (fine)"),
        Some(v) => format!("{v}"),
    };
    facts.push(("user.max_user_namespaces".into(), sysctl(m.max_user_namespaces, 1)));
    facts.push(("kernel.unprivileged_userns_clone".into(), sysctl(m.unprivileged_userns_clone, 1)));
    let mut apparmor = sysctl(m.apparmor_restrict, 0);
    if m.apparmor_profile_installed {
        apparmor.push_str(&format!("; {APPARMOR_PROFILE} is installed (it covers the steps, not unshare)"));
    }
    facts.push(("kernel.apparmor_restrict_unprivileged_userns".into(), apparmor));
    if let Some(map) = &m.uid_map {
        facts.push((
            "you are in".into(),
            format!("a user namespace (uid_map {map}), as in the sandbox: its root is not the host's"),
        ));
    }
    let sudo = match &m.sudo {
        Sudo::NotNeeded => "not needed: doctor runs as root".into(),
        Sudo::Works => "works without a password: doctor tried it".into(),
        Sudo::NeedsPassword => "asks for a password: doctor did not try it".into(),
        Sudo::Refused(said) => format!("refused: {said}"),
        Sudo::Missing => "not installed".into(),
    };
    facts.push(("sudo".into(), sudo));
    let mut signs = Vec::new();
    if m.dockerenv {
        signs.push("/.dockerenv");
    }
    if m.containerenv {
        signs.push("/run/.containerenv");
    }
    if m.seccomp == Some(2) {
        signs.push("a seccomp filter (Seccomp: 2)");
    }
    let container = if signs.is_empty() {
        "none seen".to_string()
    } else {
        let probes_ok = m.as_you.values().chain(m.as_root.values()).all(Result::is_ok);
        let verdict = if probes_ok { "namespaces work all the same" } else { "see the findings" };
        format!("maybe: {}; {verdict}", signs.join(", "))
    };
    facts.push(("container".into(), container));
    let wsl = match m.wsl {
        Some(1) => "WSL 1: no namespaces at all",
        Some(_) => "WSL 2: a real Linux kernel",
        None => "no",
    };
    facts.push(("WSL".into(), wsl.into()));
    let cgroups = match m.cgroups {
        Cgroups::V2 => "v2 (cgroup2 at /sys/fs/cgroup)",
        Cgroups::Hybrid => "hybrid: v1 controllers, v2 at /sys/fs/cgroup/unified",
        Cgroups::V1 => "v1",
        Cgroups::Unknown => "unknown: nothing at /sys/fs/cgroup, or no /proc/self/mountinfo",
    };
    facts.push(("cgroups".into(), cgroups.into()));
    let root = match m.root_shared {
        Some(true) => "shared (systemd's default): so step05 on make their mounts private first",
        Some(false) => "private; the steps make their mounts private anyway, for where it is shared",
        None => "unknown: no /proc/self/mountinfo",
    };
    facts.push(("/ is mounted".into(), root.into()));
    let tools = if m.missing_tools.is_empty() {
        format!("all {} found", TOOLS.len())
    } else {
        format!("missing: {}", m.missing_tools.join(", "))
    };
    facts.push(("tools".into(), tools));
    facts
}

// --- What doctor prints ---------------------------------------------------------------------

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        writeln!(f, "Which steps run here, for {}:\n", self.you)?;
        let header = ["step", "as you", "with sudo", "in sandbox", "why"];
        let cells: Vec<[String; 5]> = self
            .rows
            .iter()
            .map(|r| {
                [
                    r.step.clone(),
                    r.as_you.to_string(),
                    r.with_sudo.to_string(),
                    r.in_sandbox.to_string(),
                    r.why.clone(),
                ]
            })
            .collect();
        let width = |i: usize| cells.iter().map(|c| c[i].len()).chain([header[i].len()]).max().unwrap_or(0);
        let widths: Vec<usize> = (0..4).map(width).collect();
        let line = |cells: [&str; 5]| {
            let mut line = String::from("  ");
            for (i, w) in widths.iter().enumerate() {
                let _ = write!(line, "{:w$}  ", cells[i]);
            }
            line.push_str(cells[4]);
            line
        };
        writeln!(f, "{}", line(header))?;
        for c in &cells {
            writeln!(f, "{}", line([&c[0], &c[1], &c[2], &c[3], &c[4]]))?;
        }
        writeln!(f, "\nThis machine:")?;
        let width = self.facts.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (key, value) in &self.facts {
            writeln!(f, "  {key:width$}  {value}")?;
        }
        if self.findings.is_empty() {
            return writeln!(f, "\nNothing to fix: every step runs here.");
        }
        writeln!(f, "\nFindings:")?;
        for (i, finding) in self.findings.iter().enumerate() {
            writeln!(f, "  {}. {}", i + 1, finding.title)?;
            for line in &finding.lines {
                writeln!(f, "     {line}")?;
            }
            for fix in &finding.fixes {
                if fix.contains('\n') {
                    // Flush left, with no prompt, so that a here-document pasted as is still ends
                    // at its EOF line.
                    writeln!(f, "{fix}")?;
                } else {
                    writeln!(f, "     $ {fix}")?;
                }
            }
        }
        Ok(())
    }
}

/// Why user namespaces fail here, for the sandbox's error: the findings about them, as text.
pub fn why_user_namespaces_fail(m: &Machine) -> String {
    let who = if m.you_are_root { As::Root } else { As::User };
    let cause = cause(m, Probe::Sandbox, who, "");
    let finding = match cause {
        Cause::Unexplained(..) => return "run cargo xtask doctor to see more".to_string(),
        cause => finding(m, &cause),
    };
    let mut text = finding.title;
    for fix in &finding.fixes {
        let _ = write!(text, "\n  $ {}", fix.replace('\n', "\n    "));
    }
    text
}
