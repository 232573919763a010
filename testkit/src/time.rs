//! step09's lesson, the time namespace: uptime (CLOCK_BOOTTIME) shifted by `--uptime-offset`,
//! the wall clock not, the offsets seen from outside, and bad offsets explained in one line.
//!
//! Called by the `tests/lesson.rs` of steps 09 on.

use crate::step::{one_error_line, Step};

/// The first number in /proc/uptime: seconds since boot, CLOCK_BOOTTIME.
fn uptime(text: &str) -> f64 {
    text.split_whitespace().next().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("uptime? {text}"))
}

/// Seconds since 1970, CLOCK_REALTIME.
fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64()
}

/// Inside, /proc/uptime (CLOCK_BOOTTIME) is `offset` seconds ahead of the host's; `date`
/// (CLOCK_REALTIME) is not: a time namespace has no offset for the wall clock.
pub fn uptime_shifted(step: Step, args: &[&str], offset: f64) {
    if !step.may_run() {
        return;
    }
    let mut all = vec!["-q"];
    all.extend(args);
    all.extend(["sh", "-c", "cat /proc/uptime; date +%s"]);
    let before = (uptime(&std::fs::read_to_string("/proc/uptime").unwrap()), now());
    let out = step.run(&all);
    let after = (uptime(&std::fs::read_to_string("/proc/uptime").unwrap()), now());
    out.assert_status(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{out:#?}");
    let inside = uptime(lines[0]) - offset;
    assert!(before.0 - 1.0 <= inside && inside <= after.0 + 1.0, "uptime inside, less {offset}: {inside}");
    let date: f64 = lines[1].parse().unwrap();
    assert!(before.1 - 2.0 <= date && date <= after.1 + 2.0, "the wall clock moved: {date}\n{out:#?}");
}

/// From outside: /proc/PID/timens_offsets shows the offsets, for both clocks a time namespace
/// shifts, and the container's time namespace is not ours.
pub fn offsets_seen_from_outside(step: Step, offset: i64) {
    if !step.may_run() {
        return;
    }
    let running = step.start(&["-q"]);
    let pid = running.container;
    let offsets = std::fs::read_to_string(format!("/proc/{pid}/timens_offsets")).unwrap();
    let theirs = std::fs::read_link(format!("/proc/{pid}/ns/time")).unwrap();
    let ours = std::fs::read_link("/proc/self/ns/time").unwrap();
    running.finish().assert_status(0);
    let rows: Vec<Vec<&str>> = offsets.lines().map(|l| l.split_whitespace().collect()).collect();
    let offset = offset.to_string();
    assert_eq!(rows, [["monotonic", &offset, "0"], ["boottime", &offset, "0"]], "{offsets}");
    assert_ne!(theirs, ours, "the container should have a time namespace of its own");
}

/// Bad values for `--uptime-offset`: not a number is one line, 125, before anything starts;
/// an offset that would make a clock negative (or too large) is refused by the kernel with
/// ERANGE, which the step explains in one line, 125, and the command does not run.
pub fn uptime_offset_errors(step: Step) {
    for value in ["abc", "1.5", ""] {
        let out = step.before_start().run(&["--uptime-offset", value, "true"]);
        out.assert_status(125);
        let line = one_error_line(&out);
        assert!(
            line.contains(&format!("--uptime-offset takes a whole number of seconds, not '{value}'")),
            "{line}"
        );
        assert!(!out.stderr.contains("started container"), "{out:#?}");
    }
    if !step.may_run() {
        return;
    }
    let up = uptime(&std::fs::read_to_string("/proc/uptime").unwrap()) as i64;
    for value in [-(up + 1000), 9_000_000_000_000_000] {
        let out = step.run(&["-q", "--uptime-offset", &value.to_string(), "echo", "ran"]);
        out.assert_status(125);
        assert_eq!(out.stdout, "", "the command must not run\n{out:#?}");
        let line = one_error_line(&out);
        assert!(line.contains("timens_offsets failed: ERANGE"), "{line}");
        assert!(line.contains("negative") && line.contains("/proc/uptime"), "should explain ERANGE: {line}");
    }
}
