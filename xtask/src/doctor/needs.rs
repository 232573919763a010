//! What each program of the workspace needs: the namespaces doctor tries for it (as
//! [`Probe`]s), whether it needs root, and the tools the chapters run.
//!
//! Read by every other part of doctor (`look.rs` runs the probes, `assess.rs` decides from
//! them, `report.rs` and `findings.rs` name the tools), and by `reset.rs` (the steps' names).

/// Something doctor tries for real, in a child process: `unshare FLAGS COMMAND` (COMMAND is
/// `true` but for [`Probe::Bridge`] and [`Probe::Overlay`]), or, for [`Probe::Seccomp`], a
/// seccomp filter.
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
    /// What step07 does on the host, and in the sandbox: make a bridge and a veth pair, here in
    /// a throwaway network namespace (of a user namespace of its own, so that no root is
    /// needed). The kernel makes them with its `bridge` and `veth` modules: where those are
    /// not installed for the running kernel, it says EOPNOTSUPP ("Operation not supported").
    Bridge,
    /// What step11 does: mount overlayfs in a user and mount namespace (Linux 5.11 on).
    Overlay,
    /// What step13 does before exec: install a seccomp filter (a BPF program; the kernel needs
    /// CONFIG_SECCOMP_FILTER), here one that allows every call, in a throwaway child process
    /// that then runs `true`. No namespace: `look.rs` tries it without `unshare`.
    Seccomp,
}

impl Probe {
    pub const ALL: [Probe; 9] = [
        Probe::Uts,
        Probe::Ipc,
        Probe::Pid,
        Probe::Mount,
        Probe::User,
        Probe::Sandbox,
        Probe::Bridge,
        Probe::Overlay,
        Probe::Seccomp,
    ];

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
            Probe::Sandbox => crate::unshare::SANDBOX_FLAGS,
            Probe::Bridge => &["--user", "--map-root-user", "--net"],
            Probe::Overlay => &["--user", "--map-root-user", "--mount", "--propagation", "private"],
            Probe::Seccomp => &[],
        }
    }

    /// What doctor tried, for a finding's title: `unshare FLAGS`, or the seccomp filter.
    pub fn tried(self) -> String {
        match self {
            Probe::Seccomp => "a seccomp filter (prctl(PR_SET_SECCOMP))".into(),
            _ => format!("unshare {}", self.flags().join(" ")),
        }
    }

    /// What runs in the namespaces: `true`, or for [`Probe::Bridge`] the `ip` commands that
    /// make what step07 makes (they go with the namespace when `ip` exits).
    pub fn command(self) -> &'static [&'static str] {
        match self {
            Probe::Bridge => &[
                "sh",
                "-c",
                "ip link add doctor0 type bridge && ip link add doctor1 type veth peer name doctor2",
            ],
            // In a directory of its own (mkdtemp), removed after, with everything in it.
            Probe::Overlay => &[
                "sh",
                "-c",
                "d=$(mktemp -d) && mkdir \"$d/l\" \"$d/u\" \"$d/w\" \"$d/m\" && \
                 mount -t overlay overlay -o \"lowerdir=$d/l,upperdir=$d/u,workdir=$d/w,userxattr\" \"$d/m\"; \
                 r=$?; umount \"$d/m\" 2>/dev/null; rm -rf \"$d\"; exit $r",
            ],
            _ => &["true"],
        }
    }

    /// Whether the probe makes a user namespace, which an ordinary user may do without root.
    pub(super) fn makes_user_namespace(self) -> bool {
        matches!(self, Probe::User | Probe::Sandbox | Probe::Bridge | Probe::Overlay)
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
        probes: &[Probe::Sandbox, Probe::Bridge],
        root: false,
        why: "user namespaces; its bridge: CAP_NET_ADMIN on the host",
    },
    Needs {
        name: "step08-cgroup",
        probes: &[Probe::Sandbox, Probe::Bridge],
        root: false,
        why: "as step07; --pids-max: a cgroup of its own, as the host's root or in a delegated subtree (not in the sandbox)",
    },
    Needs {
        name: "step09-time",
        probes: &[Probe::Sandbox, Probe::Bridge],
        root: false,
        why: "as step08; a time namespace: Linux 5.6",
    },
    Needs {
        name: "step10-limits",
        probes: &[Probe::Sandbox, Probe::Bridge],
        root: false,
        why: "as step09; --memory, --cpus: a cgroup of its own, as the host's root (without, no limits)",
    },
    Needs {
        name: "step11-overlay",
        probes: &[Probe::Sandbox, Probe::Bridge, Probe::Overlay],
        root: false,
        why: "as step10; --image: overlayfs in a user namespace, Linux 5.11",
    },
    Needs {
        name: "step12-caps",
        probes: &[Probe::Sandbox, Probe::Bridge, Probe::Overlay],
        root: false,
        why: "as step11; dropping capabilities and masking /proc need nothing more",
    },
    Needs {
        name: "step13-seccomp",
        probes: &[Probe::Sandbox, Probe::Bridge, Probe::Overlay, Probe::Seccomp],
        root: false,
        why: "as step12; its seccomp filter: CONFIG_SECCOMP_FILTER (every distribution's kernel)",
    },
    Needs {
        name: SETNS_ENTER,
        probes: &[Probe::User],
        root: false,
        why: "joins your step06/07 containers; those of steps 02-05 need root",
    },
];

pub(super) const STEP07: &str = "step07-net";
/// The steps whose containers go on a bridge: as an ordinary user, `lo` only.
pub(super) const BRIDGED: [&str; 7] = [
    STEP07,
    "step08-cgroup",
    "step09-time",
    "step10-limits",
    "step11-overlay",
    "step12-caps",
    "step13-seccomp",
];
pub(super) const SETNS_ENTER: &str = "setns-enter";

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
    ("capsh", "libcap2-bin", "chapter 6, exercise 3: the capabilities of a process"),
    ("mdbook", "", "building the book"),
];

pub(super) const MDBOOK_INSTALL: &str =
    "cargo install mdbook --locked --version 0.5.4 --no-default-features --features search";

/// The AppArmor profile's name, and where doctor tells you to install it.
pub const APPARMOR_PROFILE: &str = "/etc/apparmor.d/namespaces-tutorial";
