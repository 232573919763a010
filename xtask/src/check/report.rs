//! What `cargo xtask check NN` prints for a learner: each check's outcome (with a panic's
//! cause, not the end of its backtrace), and the hint written for the check that failed.
//! Called by `check.rs`.

use super::run::{Outcome, Workspace};
use super::spec::Exercise;
use crate::root_half;

pub fn print_outcome(outcome: &Outcome) {
    if outcome.passed {
        println!("  passed  {}", outcome.title);
        return;
    }
    println!("  FAILED  {}", outcome.title);
    let label = |name: &str, text: &str| {
        let text = if text.trim().is_empty() { "(nothing)" } else { text.trim_end() };
        let mut lines = text.lines();
        println!("            {name:<10}{}", lines.next().unwrap_or_default());
        for line in lines {
            println!("            {:<10}{line}", "");
        }
    };
    for (n, expected) in outcome.expected.iter().enumerate() {
        label(if n == 0 { "expected:" } else { "or:" }, expected);
    }
    label("saw:", &outcome.stdout);
    if !outcome.stderr.trim().is_empty() {
        label("stderr:", &stderr_tail(&outcome.stderr));
    }
    if outcome.timed_out {
        println!("            (it ran for a minute, and was ended: does the step wait for something?)");
    }
}

/// What of a check's stderr to show: its last six lines, or, after a panic, the `panicked at`
/// line and the message under it, since a backtrace fills the last lines with frames.
pub fn stderr_tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().collect();
    match lines.iter().position(|l| l.contains("panicked at")) {
        Some(at) => {
            let mut shown: Vec<&str> = lines[at..].iter().take(3).copied().collect();
            // A message under the line ends where the backtrace (or its note) starts.
            if let Some(end) =
                shown.iter().skip(1).position(|l| l.starts_with("stack backtrace") || l.starts_with("note:"))
            {
                shown.truncate(end + 1);
            }
            shown.join("\n")
        }
        None => lines[lines.len().saturating_sub(6)..].join("\n"),
    }
}

/// Print a hint: the first, where the exercise is not started (it says how to add the
/// option); the one written for the first failing check that has one; for a check that has
/// none, the hint after the last one this exercise showed, remembered in target/.
pub fn print_hint(ws: &Workspace, exercise: &Exercise, outcomes: &[Outcome], started: bool) {
    let page = format!("book/src/exercises/step{}.md", exercise.number());
    let total = exercise.hints.len();
    let failed = exercise.checks.iter().zip(outcomes).filter(|(_, o)| !o.passed);
    let written =
        failed.filter_map(|(check, _)| Some((check.hint?, format!("for \"{}\"", check.title)))).next();
    let chosen = match started {
        false => Some((0, "to start".to_string())),
        true => written,
    };
    if let Some((n, what)) = chosen {
        println!("\nHint {} of {total}, {what}:\n{}", n + 1, indent(&exercise.hints[n], "    "));
        println!("(All the hints are in {page}.)");
        return;
    }
    let state = ws.target_dir.join("exercises/hints").join(&exercise.id);
    let shown: usize = std::fs::read_to_string(&state).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
    let n = (shown + 1).min(total);
    println!("\nHint {n} of {total}:\n{}", indent(&exercise.hints[n - 1], "    "));
    match n < total {
        true => println!("(The next failing run shows hint {}. All the hints are in {page}.)", n + 1),
        false => println!(
            "(That was the last hint. The solution is exercises/solutions/{}.patch, if you must.)",
            exercise.id
        ),
    }
    // Losing this only means showing a hint again. Written by the root half, it goes back to
    // target/'s owner.
    let written =
        std::fs::create_dir_all(state.parent().unwrap()).and_then(|()| std::fs::write(&state, n.to_string()));
    if written.is_ok() {
        root_half::give_back(&ws.target_dir, &state);
    }
}

pub fn indent(text: &str, by: &str) -> String {
    text.lines()
        .map(|l| if l.is_empty() { String::new() } else { format!("{by}{l}") })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_shows_its_cause_not_its_backtrace() {
        let mut stderr = String::from("thread 'main' panicked at step05-mount/src/rootfs.rs:210:40:\n");
        stderr += "index out of bounds: the len is 1 but the index is 1\nstack backtrace:\n";
        for n in 0..30 {
            stderr += &format!("  {n}: core::panicking::panic_fmt\n             at /rustc/library/core/src/panicking.rs:72:14\n");
        }
        assert_eq!(
            stderr_tail(&stderr),
            "thread 'main' panicked at step05-mount/src/rootfs.rs:210:40:\n\
             index out of bounds: the len is 1 but the index is 1"
        );
        assert_eq!(stderr_tail("a\nb\nc\nd\ne\nf\ng"), "b\nc\nd\ne\nf\ng");
    }
}
