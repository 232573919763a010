//! Who the tests run as, and what they may do there: root, the sandbox's root, an ordinary user,
//! and `nobody`, as whom root starts what needs no privilege. A check that needs what it lacks
//! prints one line saying why it is skipped (under CI, where nothing may skip, it fails).
//!
//! Called by [`crate::step`] and by every lesson's checks; the steps' tests call
//! [`root_or_skip`] and [`real_root_or_skip`] themselves for checks of their own.

use crate::tmp::fresh_dir_for_nobody;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

// --- Root, the sandbox's root, and ordinary users ------------------------------------------------

/// Whether the tests run as root: uid 0, perhaps only in a user namespace of its own, such as
/// `cargo xtask sandbox`'s, whose root may make namespaces (it owns them) but is nobody to the
/// machine; see [`is_real_root`].
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Whether the tests run as the machine's own root: uid 0 in the initial user namespace, whose
/// uid_map maps every ID to itself. Root in `cargo xtask sandbox` maps only itself (`0 UID 1`):
/// it has no capability over the machine, no `nobody` to become, and no cgroup it may write.
pub fn is_real_root() -> bool {
    let map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    is_root() && map.split_whitespace().eq(["0", "0", "4294967295"])
}

/// What a check needs that only the machine's root has, and the sandbox's root has not.
#[derive(Clone, Copy)]
pub enum RealRoot {
    /// To start a process as nobody (uid 65534).
    Nobody,
    /// To write the machine's cgroup filesystem.
    Cgroups,
    /// To take /proc away.
    NoProc,
    /// To start a step whose container's root is someone else (SUDO_UID, /etc/subuid, nobody).
    MapOthers,
    /// To have a container's root that is not the owner of the step's init's /proc files.
    InitProcOwner,
    /// To make the book's transcripts (`xtask::transcripts`), whose scratch directories refuse a
    /// /tmp whose owner they cannot see.
    Transcripts,
}

impl RealRoot {
    /// What the sandbox's root cannot do, and why.
    fn sandbox_cannot(self) -> &'static str {
        match self {
            RealRoot::Nobody => "start a process as nobody: its user namespace maps no uid but its own",
            RealRoot::Cgroups => {
                "write the machine's cgroups: they belong to a root its user namespace does not map"
            }
            RealRoot::NoProc => {
                "take /proc away: under its own /proc is the machine's, which it may not unmount"
            }
            RealRoot::MapOthers => {
                "map the container's root to another user: its user namespace maps only itself, so a step it starts maps its own uid"
            }
            RealRoot::InitProcOwner => {
                "keep the container's root from listing /proc/1/fd: init is not dumpable, so its /proc files belong to the root of the namespace it started in, the sandbox's root, whom the container's root is (its fds still cannot be opened)"
            }
            RealRoot::Transcripts => {
                "make the book's transcripts: xtask refuses its /tmp, whose owner, the machine's root, it does not map"
            }
        }
    }
}

/// How an ordinary user can still run what needs root, printed with every skip.
const WITHOUT_SUDO: &str =
    "run the tests as root to include it (no sudo? `cargo xtask sandbox -- cargo test` runs most of them)";

/// For a test that needs root, in a user namespace of its own at least ([`is_root`]): true if
/// it may go on. Otherwise it prints why it is skipped and returns false, except under CI
/// (`CI` set), where a skip would hide a gap: it fails.
pub fn root_or_skip(why: &str) -> bool {
    if is_root() {
        return true;
    }
    skip(&format!("it needs root ({why}); {WITHOUT_SUDO}"))
}

/// For a test that needs the machine's own root ([`is_real_root`]): like [`root_or_skip`], and
/// in `cargo xtask sandbox` it says, in one line, what the sandbox's root cannot do.
pub fn real_root_or_skip(needs: RealRoot) -> bool {
    if is_real_root() {
        return true;
    }
    if !is_root() {
        return root_or_skip(&format!("to {}", needs.sandbox_cannot().split(':').next().unwrap_or_default()));
    }
    skip(&format!("needs real root: the sandbox's root cannot {}", needs.sandbox_cannot()))
}

/// Say that the current test skipped a check, and why; under CI, fail instead.
fn skip(why: &str) -> bool {
    let test = std::thread::current().name().unwrap_or("a test").to_string();
    if std::env::var_os("CI").is_some() {
        panic!("{test} would skip a check, and CI must run every test: {why}");
    }
    // Straight to fd 2: the test harness captures eprintln!, and a skip must be seen.
    let _ = writeln!(std::io::stderr(), "note: {test} skipped a check: {why}");
    false
}

// --- Programs the checks need --------------------------------------------------------------------

/// For a test that needs programs: true if every one of `tools` is installed. Otherwise it
/// prints which Debian package to install and returns false, except under CI, where it fails.
pub fn installed_or_skip(tools: &[&str]) -> bool {
    let path = format!("{}:{SYSTEM_PATH}", std::env::var("PATH").unwrap_or_default());
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|tool| !path.split(':').any(|dir| Path::new(dir).join(tool).is_file()))
        .collect();
    if missing.is_empty() {
        return true;
    }
    let install: Vec<String> =
        missing.iter().map(|tool| format!("{tool} (apt-get install {})", debian_package(tool))).collect();
    let install = install.join(", ");
    if std::env::var_os("CI").is_some() {
        panic!("this test needs {install}, and CI must run every test: install it");
    }
    let _ = writeln!(
        std::io::stderr(),
        "note: {} skipped a check: it needs {install}",
        std::thread::current().name().unwrap_or("a test")
    );
    false
}

/// The Debian package that has `tool`.
fn debian_package(tool: &str) -> &'static str {
    match tool {
        "unshare" | "nsenter" | "setpriv" | "ipcmk" | "ipcs" | "lsns" | "findmnt" => "util-linux",
        "mount" | "umount" => "mount",
        "ps" | "pgrep" => "procps",
        "ip" => "iproute2",
        "ping" => "iputils-ping",
        "nc" => "netcat-openbsd",
        "strace" => "strace",
        "script" => "bsdutils",
        "hostname" => "hostname",
        _ => "the package that has it",
    }
}

// --- Nobody --------------------------------------------------------------------------------------

// A macro rather than a const, so that NOBODY below can be spelled with concat!.
macro_rules! system_path {
    () => {
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    };
}

/// The PATH a process started as nobody gets: the system's directories, nothing of root's.
pub const SYSTEM_PATH: &str = system_path!();

/// The argv prefix that runs a command as nobody (uid and gid 65534, no supplementary groups)
/// with a minimal environment. `env -i` first: root's environment (its HOME, tokens, proxies,
/// whatever the shell that ran the tests had) must not pass to a process that nobody owns,
/// which could read it in /proc/PID/environ.
pub const NOBODY: [&str; 9] = [
    "env",
    "-i",
    concat!("PATH=", system_path!()),
    "HOME=/",
    "LANG=C",
    "setpriv",
    "--reuid=65534",
    "--regid=65534",
    "--clear-groups",
];

/// [`NOBODY`], with another PATH.
pub fn nobody_with_path(path: &str) -> Vec<String> {
    NOBODY
        .iter()
        .map(|arg| match arg.starts_with("PATH=") {
            true => format!("PATH={path}"),
            false => arg.to_string(),
        })
        .collect()
}

/// A path to `bin` that nobody (uid 65534) can execute: the binary itself if every directory
/// above it is searchable by others, or else a copy in a directory of the test's that nobody
/// may read ([`fresh_dir_for_nobody`]).
pub fn reachable_by_nobody(bin: &str) -> PathBuf {
    let path = Path::new(bin);
    let open = path
        .ancestors()
        .skip(1)
        .all(|dir| std::fs::metadata(dir).map(|m| m.permissions().mode() & 0o001 != 0).unwrap_or(false));
    if open {
        return path.to_path_buf();
    }
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    static COPYING: Mutex<()> = Mutex::new(());
    let dir = DIR.get_or_init(|| fresh_dir_for_nobody("bin"));
    let copy = dir.join(path.file_name().unwrap());
    // Tests run in threads: one copies, the others wait for it.
    let _one_at_a_time = COPYING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if !copy.exists() {
        std::fs::copy(path, &copy).unwrap_or_else(|e| panic!("copying {bin}: {e}"));
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    copy
}
