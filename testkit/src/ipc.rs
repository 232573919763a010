//! step03's lesson, the IPC namespace: a System V message queue made outside does not show
//! inside (`ipcs -q`), and without the namespace it does.
//!
//! Called by the `tests/lesson.rs` of steps 01 on.

use crate::privilege::{installed_or_skip, root_or_skip};
use crate::step::{run, Out, Step};

/// Make a message queue with `ipcmk -Q` in a throwaway IPC namespace, then run the step there
/// with `ipcs -q`. Returns how many queues the outside saw, and the step's output.
fn ipc_queue_then(step: Step) -> (usize, Out) {
    let script = include_str!("../scripts/ipc-queue-then.sh");
    let mut argv: Vec<String> = ["unshare", "--ipc", "sh", "-c", script, "sh"].map(String::from).to_vec();
    argv.extend(step.argv(&["-q", "ipcs", "-q"]));
    let out = run(&argv);
    out.assert_status(0);
    let outside = out.stderr.lines().next().unwrap_or("").trim().parse().unwrap_or(0);
    (outside, out)
}

fn queue_rows(ipcs: &str) -> usize {
    ipcs.lines().filter(|l| l.starts_with("0x")).count()
}

/// A queue made outside does not show inside: `ipcs -q` lists no rows.
pub fn ipc_queue_hidden(step: Step) {
    if !step.may_run() {
        return;
    }
    if !root_or_skip("unshare --ipc needs root") || !installed_or_skip(&["unshare", "ipcmk", "ipcs"]) {
        return;
    }
    let (outside, out) = ipc_queue_then(step);
    assert_eq!(outside, 1, "the queue should exist outside\n{out:#?}");
    assert!(out.stdout.contains("Message Queues"), "{out:#?}");
    assert_eq!(queue_rows(&out.stdout), 0, "the host's queue must not show inside\n{out:#?}");
}

/// Without an IPC namespace, the queue made outside shows inside too.
pub fn ipc_queue_shared(step: Step) {
    if !step.may_run() {
        return;
    }
    if !root_or_skip("unshare --ipc needs root") || !installed_or_skip(&["unshare", "ipcmk", "ipcs"]) {
        return;
    }
    let (outside, out) = ipc_queue_then(step);
    assert_eq!(outside, 1, "{out:#?}");
    assert_eq!(queue_rows(&out.stdout), 1, "the queue should be visible\n{out:#?}");
}
