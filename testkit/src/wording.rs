//! What the steps say, word for word, in one place: the narration on stderr and the pieces of
//! error lines that the checks look for. When a step rewords a message, this file changes, and
//! no check does.
//!
//! Called by the lessons' checks ([`crate::clone`], [`crate::pid`], [`crate::net`]...).

// --- Narration (`[stepNN-x] parent: ...`, `child: ...`, `init: ...`) ------------------------

/// The parent, once clone(2) has returned; `started container PID N with FLAGS`.
pub const STARTED_CONTAINER: &str = "parent: started container PID ";
/// The flags, at the end of the [`STARTED_CONTAINER`] line.
pub fn with_flags(flags: &str) -> String {
    format!(" with {flags}\n")
}
/// The child, first thing.
pub const CHILD_RUNNING: &str = "child: running as PID ";
/// The parent, when the container has exited.
pub fn exited_with(status: i32) -> String {
    format!("parent: container exited with status {status}")
}
/// The parent, when a signal ended the container (`SIGKILL`, `SIGTERM`).
pub fn killed_by(signal: &str) -> String {
    format!("container was killed by {signal}")
}
/// The parent passes a signal it got on to the container (`SIGINT`...).
pub fn forwarding(signal: impl std::fmt::Display) -> String {
    format!("parent: got {signal}; forwarding it to the container")
}
/// From step04 on: the container ignored a forwarded signal for `--stop-timeout` (in ms).
pub fn still_running_after(ms: u32) -> String {
    format!("container still running {ms}ms after the signal; sending SIGKILL")
}
/// Any line that says the parent had to SIGKILL the container.
pub const SENDING_SIGKILL: &str = "sending SIGKILL";
/// `--init` passes a signal on to the command, its PID 2.
pub fn init_forwarding(signal: &str, command: &str, pid: u32) -> String {
    format!("init: got {signal}; forwarding it to {command} (PID {pid})")
}
/// From step06 on: root inside the user namespace, with every capability.
pub const ALL_CAPABILITIES: &str = "child: uid 0, gid 0, all ";
/// step07's network narration, in order: before, the parent's `ip` commands, the child's, after.
pub const NETWORK: [&str; 7] = [
    "child: network before setup: lo (down)",
    "parent: ip link add lxcbr0 type bridge",
    "parent: ip addr add 192.168.10.1/24 dev lxcbr0",
    "type veth peer name eth0 netns ",
    "child: ip link set lo up",
    "child: ip route add default via 192.168.10.1",
    "child: network after setup: lo (up), eth0 (up)",
];
/// step07 run by an ordinary user: why the container has `lo` only.
pub const NO_NETWORK_LINK: &str = "no network link";

// --- --help -------------------------------------------------------------------------------

/// The first line of `--help`.
pub fn usage(name: &str) -> String {
    format!("Usage: {name} [OPTIONS] [--] [COMMAND [ARG...]]\n")
}
/// `--help` says what the step needs to run.
pub const NEEDS: &str = "\nNeeds: ";

// --- Error lines (`stepNN-x: error: ...`) -------------------------------------------------

pub fn error_prefix(name: &str) -> String {
    format!("{name}: error: ")
}
pub fn unknown_option(option: &str) -> String {
    format!("unknown option '{option}'")
}
pub fn command_not_found(command: &str) -> String {
    format!("{command}: command not found")
}
pub const EMPTY_COMMAND: &str = "the command is empty";
pub fn cannot_execute(path: &str) -> String {
    format!("{path}: cannot execute")
}
/// Error lines about options point to `--help`.
pub const SEE_HELP: &str = "--help";
/// Bad values for the options every step has, and what the error line says of each.
pub const BAD_OPTION_VALUES: [(&[&str], &str); 4] = [
    (&["--stop-timeout", "soon", "true"], "--stop-timeout takes a number of seconds"),
    (&["--stop-timeout", "-1", "true"], "--stop-timeout takes a number of seconds"),
    (&["--stop-timeout"], "'--stop-timeout' needs a value"),
    (&["--quiet=yes", "true"], "'--quiet' takes no value"),
];
/// Steps 02-05 run without root: the capability, how to run it, and the step that needs none.
pub const WITHOUT_ROOT: [&str; 3] = ["CAP_SYS_ADMIN", "sudo ", "step06-user"];
/// `--rootfs` that is missing or a file, and one without a shell.
pub const NOT_A_DIRECTORY: &str = "not a directory";
pub const NO_BIN_SH: &str = "no bin/sh";
/// User namespaces disabled: the errno, the setting, and how to change it.
pub const USER_NAMESPACES_DISABLED: [&str; 3] =
    ["ENOSPC", "user.max_user_namespaces is 0", "sysctl -w user.max_user_namespaces="];
/// No /proc: what is missing, and how to mount it.
pub const NO_PROC: [&str; 2] = ["/proc is not mounted", "mount -t proc proc /proc"];
/// What steps 06 on say when /proc is another PID namespace's, and what to do.
pub const FOREIGN_PROC: [&str; 2] = ["/proc is another PID namespace's", "add --mount-proc"];
/// step07's bad network options, and what the error line says of each.
pub const BAD_NETWORK_OPTIONS: [([&str; 2], &str); 4] = [
    (["--subnet", "10.0.0.0"], "--subnet 10.0.0.0: expected an IPv4 subnet"),
    (["--ip", "192.168.11.5"], "--ip 192.168.11.5: not a free host address"),
    (["--ip", "192.168.10.1"], "--ip 192.168.10.1: not a free host address"),
    (["--bridge", "a-name-far-too-long"], "not an interface name"),
];
/// step07 without `ip`: the command it could not run (either of two), and why.
pub const IP_COMMANDS: [&str; 2] = ["`ip link add lxcbr0 type bridge`", "`ip -batch -`"];
pub const IP_NOT_INSTALLED: &str = "ip is not installed";
/// step07 run by an ordinary user: the capability it lacks, and how to get it.
pub const NO_NETWORK_LINK_WHY: [&str; 2] = ["CAP_NET_ADMIN", "sudo"];
