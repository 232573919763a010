//! What this step shows, checked as a learner would see it: from inside (the command's output)
//! and from outside (/proc/PID/ns, nsenter, the host), and every earlier step's lesson again.
//! Each test runs the step's binary as a subprocess: `clone` never runs in the test process.

use testkit::{caps, cgroup, clone, ipc, limits, mount, net, overlay, pid, seccomp, time, user, uts, Step};

const NAME: &str = "step13-seccomp";
const STEP: Step = Step {
    bin: env!("CARGO_BIN_EXE_step13-seccomp"),
    wrap: &["unshare", "--net"],
    as_nobody: false,
    needs_root: true,
};
/// The same, run as nobody: no network link and no cgroup of its own, but a time namespace and
/// everything else earlier steps established.
const NOBODY: Step = Step { as_nobody: true, ..STEP };
/// Run by root, as nobody; run by an ordinary user, as that user: the filter needs no root.
const USER: Step = Step { needs_root: false, ..NOBODY };

// The command line, exit statuses and narration every step shares.
#[test]
fn runs_command() {
    clone::runs_command(STEP)
}
#[test]
fn passes_arguments() {
    clone::passes_arguments(STEP)
}
#[test]
fn default_is_bash() {
    clone::default_is_bash(STEP)
}
#[test]
fn narrates_on_stderr() {
    clone::narrates_on_stderr(
        STEP,
        "CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | SIGCHLD",
    )
}
#[test]
fn help() {
    clone::help(STEP, NAME)
}
#[test]
fn unknown_option() {
    clone::unknown_option(STEP)
}
#[test]
fn exit_statuses() {
    clone::exit_statuses(STEP)
}
#[test]
fn signal_status() {
    clone::signal_status(STEP)
}

// This step's lesson: a seccomp filter, as Docker's default profile.
#[test]
fn filter_inside_not_outside() {
    seccomp::filter_inside_not_outside(STEP)
}
#[test]
fn filter_inside_not_outside_as_user() {
    seccomp::filter_inside_not_outside(USER)
}
#[test]
fn unconfined_and_bad_values() {
    seccomp::unconfined_and_bad_values(USER)
}
#[test]
fn refused_calls_get_eperm() {
    seccomp::refused_calls_get_eperm(STEP)
}
#[test]
fn refused_calls_get_eperm_as_user() {
    seccomp::refused_calls_get_eperm(USER)
}
#[test]
fn refused_commands() {
    seccomp::refused_commands(STEP)
}
#[test]
fn refused_commands_as_user() {
    seccomp::refused_commands(USER)
}
#[test]
fn everyday_programs_work() {
    seccomp::everyday_programs_work(STEP)
}
#[test]
fn everyday_programs_work_as_user() {
    seccomp::everyday_programs_work(USER)
}
#[test]
fn foreign_architecture_killed() {
    seccomp::foreign_architecture_killed(STEP)
}
#[test]
fn foreign_architecture_killed_as_user() {
    seccomp::foreign_architecture_killed(USER)
}
#[test]
fn no_such_call_gets_enosys() {
    seccomp::no_such_call_gets_enosys(USER)
}
#[test]
fn narration_names_refused() {
    seccomp::narration_names_refused(USER)
}

// What step12 established: root inside keeps Docker's 14 capabilities, runc's paths are masked
// or read-only, /dev is nodev, and --no-new-privileges makes setuid programs give nothing.
#[test]
fn only_docker_defaults() {
    caps::only_docker_defaults(STEP)
}
#[test]
fn only_docker_defaults_as_nobody() {
    caps::only_docker_defaults(NOBODY)
}
#[test]
fn capabilities_seen_from_outside() {
    caps::seen_from_outside(STEP)
}
#[test]
fn root_power_gone() {
    caps::root_power_gone(STEP)
}
#[test]
fn root_power_gone_as_nobody() {
    caps::root_power_gone(NOBODY)
}
#[test]
fn dev_is_nodev() {
    caps::dev_is_nodev(STEP)
}
#[test]
fn no_new_privileges() {
    caps::no_new_privileges(NOBODY)
}
#[test]
fn setuid_gains_nothing() {
    caps::setuid_gains_nothing(STEP)
}
#[test]
fn nested_says_why() {
    caps::nested_says_why(NOBODY, &["--seccomp", "unconfined"])
}

// What step11 established: an image shared read-only, under a copy-on-write layer of each container's own.
#[test]
fn image_never_changes() {
    overlay::image_never_changes(STEP)
}
#[test]
fn image_never_changes_as_nobody() {
    overlay::image_never_changes(NOBODY)
}
#[test]
fn containers_do_not_see_each_other() {
    overlay::containers_do_not_see_each_other(STEP)
}
#[test]
fn containers_do_not_see_each_other_as_nobody() {
    overlay::containers_do_not_see_each_other(NOBODY)
}
#[test]
fn keep_layer() {
    overlay::keep_layer(NOBODY)
}
#[test]
fn unmapped_image_explained() {
    overlay::unmapped_image_explained(NOBODY)
}
#[test]
fn image_errors() {
    overlay::image_errors(STEP)
}

// What step10 established: memory and CPU limits in the container's cgroup, and what it used.
#[test]
fn limits_seen_from_outside() {
    limits::limits_seen_from_outside(STEP)
}
#[test]
fn cpu_limit_holds() {
    limits::cpu_limit_holds(STEP)
}
#[test]
fn oom_killer_ends_hog() {
    limits::oom_killer_ends_hog(STEP)
}
#[test]
fn limit_errors() {
    limits::limit_errors(STEP)
}
#[test]
fn no_limits_as_nobody() {
    limits::no_limits_as_nobody(STEP)
}

/// The offset a step09 container's boot clocks run ahead by, unless told otherwise: 1000 days.
const DEFAULT_OFFSET: i64 = 86_400_000;

// What step09 established: a time namespace, made with unshare(2), with offsets written first.
#[test]
fn namespaces() {
    clone::namespaces_differ(STEP, &["user", "uts", "ipc", "pid", "mnt", "net", "cgroup", "time"])
}
#[test]
fn uptime_shifted() {
    time::uptime_shifted(STEP, &[], DEFAULT_OFFSET as f64)
}
#[test]
fn uptime_shifted_as_nobody() {
    time::uptime_shifted(NOBODY, &[], DEFAULT_OFFSET as f64)
}
#[test]
fn uptime_offset_chosen() {
    time::uptime_shifted(STEP, &["--uptime-offset", "-10"], -10.0)
}
#[test]
fn offsets_seen_from_outside() {
    time::offsets_seen_from_outside(STEP, DEFAULT_OFFSET)
}
#[test]
fn uptime_offset_errors() {
    time::uptime_offset_errors(STEP)
}

// What step08 established: a cgroup namespace, in a cgroup of its own.
#[test]
fn cgroup_is_root_inside() {
    cgroup::cgroup_is_root_inside(STEP)
}
#[test]
fn cgroup_namespace_only_as_nobody() {
    cgroup::cgroup_is_root_inside(NOBODY)
}
#[test]
fn cgroup_view_with_rootfs() {
    cgroup::cgroup_view_with_rootfs(STEP)
}
#[test]
fn pids_limit_holds() {
    cgroup::pids_limit_holds(STEP)
}
// step08's container_cannot_lift_its_limit mounts the pids hierarchy from inside: here that
// mount itself fails with EPERM (root_power_gone), and pids_limit_holds shows the limit.
#[test]
fn pids_max_errors() {
    cgroup::pids_max_errors(STEP)
}

// What step07 established: a network of its own, on a bridge.
#[test]
fn network_inside() {
    net::network_inside(STEP)
}
#[test]
fn network_narrated() {
    net::network_narrated(STEP)
}
#[test]
fn network_options() {
    net::network_options(STEP)
}
#[test]
fn two_containers_reach_each_other() {
    net::two_containers_reach_each_other(STEP)
}
#[test]
fn five_at_once() {
    net::five_at_once(STEP)
}
#[test]
fn lo_only_without_root() {
    net::lo_only_without_root(STEP)
}
#[test]
fn bridge_name_errors() {
    net::bridge_name_errors(STEP)
}
#[test]
fn half_made_bridge_is_completed() {
    net::half_made_bridge_is_completed(STEP)
}
#[test]
fn foreign_bridge_refused() {
    net::foreign_bridge_refused(STEP)
}
#[test]
fn bridges_sharing_a_prefix() {
    net::bridges_sharing_a_prefix(STEP)
}
#[test]
fn unusable_subnets_refused() {
    net::unusable_subnets_refused(STEP)
}
#[test]
fn big_subnet_in_little_memory() {
    net::big_subnet_in_little_memory(STEP)
}
#[test]
fn works_without_ip() {
    net::works_without_ip(STEP)
}

// What step06 established: root inside, an ordinary user outside, and no sudo.
#[test]
fn root_inside() {
    user::root_inside(NOBODY)
}
// step06's all_capabilities_inside no longer holds: this step drops all but 14 (only_docker_defaults).
#[test]
fn cannot_write_host_etc() {
    user::cannot_write_host_etc(NOBODY)
}
#[test]
fn owned_by_user_outside() {
    user::owned_by_user_outside(NOBODY)
}
#[test]
fn user_namespaces_disabled() {
    user::user_namespaces_disabled(STEP)
}

// What step05 established: its own /proc, its own root, and no mount leaks out.
#[test]
fn ps_sees_only_container() {
    pid::ps_sees_only_container(STEP)
}
#[test]
fn mounts_do_not_leak() {
    mount::mounts_do_not_leak(STEP, false)
}
#[test]
fn rootfs_mounts_do_not_leak() {
    mount::mounts_do_not_leak(STEP, true)
}
#[test]
fn rootfs_becomes_root() {
    mount::rootfs_becomes_root(STEP, true)
}
#[test]
fn rootfs_errors() {
    mount::rootfs_errors(STEP)
}
#[test]
fn host_files_without_rootfs() {
    mount::host_files_without_rootfs(STEP)
}

// What steps 02-04 established.
#[test]
fn hostname_is_container() {
    uts::hostname_is_container(STEP)
}
#[test]
fn nsenter_sees_hostname() {
    uts::nsenter_sees_hostname(STEP)
}
#[test]
fn ipc_queue_hidden() {
    ipc::ipc_queue_hidden(STEP)
}
#[test]
fn command_is_pid1() {
    pid::command_is_pid1(STEP)
}
