//! step02's lesson, the UTS namespace: the hostname inside is `container`, and the host's does
//! not change; and, as every step from here to step05 needs root, a step run without it refuses
//! in one line.
//!
//! Called by the `tests/lesson.rs` of step01 (the host's hostname) and of steps 02 on.

use crate::privilege::{installed_or_skip, is_root, real_root_or_skip, root_or_skip, RealRoot};
use crate::step::{one_error_line, run, run_as_nobody, Step};
use crate::wording as says;

// --- Root ----------------------------------------------------------------------------------------

/// Run by an ordinary user, the step refuses before clone, naming CAP_SYS_ADMIN and the way out.
pub fn refuses_without_root(step: Step, name: &str) {
    if is_root() && !real_root_or_skip(RealRoot::Nobody) {
        return;
    }
    let out = run_as_nobody(step, &["true"]);
    out.assert_status(125);
    let line = one_error_line(&out);
    assert!(line.starts_with(&says::error_prefix(name)), "{line}");
    let [capability, how, step06] = says::WITHOUT_ROOT;
    assert!(line.contains(capability), "should name the capability: {line}");
    assert!(line.contains(how), "should say how to run it: {line}");
    assert!(line.contains(step06), "should point to step06: {line}");
    assert!(!out.stderr.contains(says::STARTED_CONTAINER), "must fail before clone\n{out:#?}");
}

// --- The hostname --------------------------------------------------------------------------------

fn host_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap()
}

/// Inside, the hostname is `container`; outside, it has not changed.
pub fn hostname_is_container(step: Step) {
    if !step.may_run() || !installed_or_skip(&["hostname"]) {
        return;
    }
    let before = host_hostname();
    let out = step.run(&["hostname"]);
    out.assert_status(0);
    assert_eq!(out.stdout, "container\n");
    assert_eq!(host_hostname(), before, "the host's hostname must not change");
}

/// Without a UTS namespace the child sees the host's hostname.
pub fn hostname_is_hosts(step: Step) {
    if !step.may_run() || !installed_or_skip(&["hostname"]) {
        return;
    }
    let out = step.run(&["hostname"]);
    out.assert_status(0);
    assert_eq!(out.stdout, host_hostname());
}

/// From outside: `nsenter -t PID -u hostname` prints `container` while the host keeps its name.
pub fn nsenter_sees_hostname(step: Step) {
    if !step.may_run() {
        return;
    }
    if !root_or_skip("nsenter into another process's namespace needs root")
        || !installed_or_skip(&["nsenter", "hostname"])
    {
        return;
    }
    let before = host_hostname();
    let running = step.start(&["-q"]);
    let pid = running.container.to_string();
    let out = run(&["nsenter", "-t", &pid, "-u", "hostname"]);
    out.assert_status(0);
    assert_eq!(out.stdout, "container\n");
    assert_eq!(host_hostname(), before);
    running.finish().assert_status(0);
}
