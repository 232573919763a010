//! `cargo xtask check NN [EXERCISE]`: check a learner's coding exercises for step NN.
//!
//! Each exercise is a spec, `exercises/NN-name.md` ([`spec`]): a goal, hints, and checks that
//! look at behaviour only (what the command prints inside, `/proc` and the host from
//! outside), never at the code, so that any correct solution passes. The checker builds the
//! step, runs each check ([`run`]), and prints it as passed or failed, with what it expected,
//! what it saw, and, on failure, the next hint. `--all` prints one line per exercise, for a
//! teacher walking round the room. A step added later needs one spec and one solution patch
//! per exercise, and no code here.
//!
//! Exit status: 0 if every check passed, 1 if any failed (or an exercise is not started or
//! does not build), 2 if the checks could not run (a usage error, or root needed).

pub mod pages;
pub mod run;
pub mod spec;

use anyhow::{bail, Result};
use run::{is_root, Outcome, Workspace};
use spec::Exercise;
use std::collections::BTreeMap;
use std::path::PathBuf;

const USAGE: &str = "\
usage: cargo xtask check NN [EXERCISE]  build step NN and run the checks of its exercises (or one)
       cargo xtask check --all          one line per exercise: passed, failed or not started
       cargo xtask check --list         the exercises, with their flags
       cargo xtask check --pages        write book/src/exercises/ from exercises/*.md";

/// Where an exercise stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Passed,
    Failed {
        passed: usize,
        total: usize,
    },
    /// The step's `--help` does not list the exercise's option yet.
    NotStarted,
    DoesNotBuild,
    /// Started, but its checks need root and we are not.
    NeedsRoot,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Status::Passed => f.write_str("passed"),
            Status::Failed { passed, total } => write!(f, "failed ({passed} of {total} checks passed)"),
            Status::NotStarted => f.write_str("not started"),
            Status::DoesNotBuild => f.write_str("does not build"),
            Status::NeedsRoot => f.write_str("needs root"),
        }
    }
}

/// The status that a list of outcomes makes.
pub fn status_of(outcomes: &[Outcome]) -> Status {
    let passed = outcomes.iter().filter(|o| o.passed).count();
    match passed == outcomes.len() {
        true => Status::Passed,
        false => Status::Failed { passed, total: outcomes.len() },
    }
}

/// Check one exercise against a step built at `binary`: not started, or its checks' outcomes.
pub fn evaluate(
    ws: &Workspace,
    exercise: &Exercise,
    binary: &std::path::Path,
) -> Result<(Status, Vec<Outcome>)> {
    if !run::started(binary, exercise)? {
        return Ok((Status::NotStarted, Vec::new()));
    }
    if exercise.needs_root && !is_root() {
        return Ok((Status::NeedsRoot, Vec::new()));
    }
    let outcomes = run::run_checks(ws, exercise, binary)?;
    Ok((status_of(&outcomes), outcomes))
}

/// `cargo xtask check ARGS`: the exit status.
pub fn main(args: &[String]) -> i32 {
    match cli(args) {
        Ok(status) => status,
        Err(err) => {
            eprintln!("xtask check: error: {err:#}");
            2
        }
    }
}

fn cli(args: &[String]) -> Result<i32> {
    let ws = Workspace::this();
    let exercises = spec::load_all(&ws.root)?;
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args[..] {
        ["--all"] => all(&ws, &exercises),
        ["--list"] => {
            list(&exercises);
            Ok(0)
        }
        ["--pages"] => {
            let written = write_pages(&ws.root, &exercises)?;
            eprintln!("xtask: {} page(s) changed in book/src/exercises: {written:?}", written.len());
            Ok(0)
        }
        [number] | [number, _] if number.bytes().all(|b| b.is_ascii_digit()) && !number.is_empty() => {
            let number = format!("{:0>2}", number);
            let chosen = choose(&exercises, &number, args.get(1).copied())?;
            step(&ws, &chosen, &args)
        }
        [id] if id.len() > 3 && id.as_bytes()[2] == b'-' => {
            let chosen = choose(&exercises, &id[..2], Some(&id[3..]))?;
            step(&ws, &chosen, &args)
        }
        ["-h" | "--help"] => {
            println!("{USAGE}");
            Ok(0)
        }
        _ => {
            eprintln!("{USAGE}\n");
            list(&exercises);
            Ok(2)
        }
    }
}

/// The exercises of step `number`, or the one called `name`.
fn choose(exercises: &[Exercise], number: &str, name: Option<&str>) -> Result<Vec<Exercise>> {
    let of_step: Vec<Exercise> = exercises.iter().filter(|e| e.number() == number).cloned().collect();
    if of_step.is_empty() {
        bail!("step {number} has no exercises (see cargo xtask check --list)");
    }
    let Some(name) = name else { return Ok(of_step) };
    let name = name.strip_prefix(&format!("{number}-")).unwrap_or(name);
    match of_step.iter().find(|e| e.name() == name) {
        Some(exercise) => Ok(vec![exercise.clone()]),
        None => {
            let names: Vec<&str> = of_step.iter().map(Exercise::name).collect();
            bail!("step {number} has no exercise '{name}'; it has: {}", names.join(", "))
        }
    }
}

fn list(exercises: &[Exercise]) {
    println!("{:<14} {:<26} {:<12} needs", "exercise", "flag", "time");
    for e in exercises {
        let needs = if e.needs_root { "root" } else { "nothing" };
        println!("{:<14} {:<26} {:<12} {needs}", e.id, e.flag, e.time);
    }
}

/// `cargo xtask check NN [EXERCISE]`: build the step, run the checks, print each.
fn step(ws: &Workspace, exercises: &[Exercise], args: &[&str]) -> Result<i32> {
    let first = &exercises[0];
    if exercises.iter().any(|e| e.needs_root) && !is_root() {
        eprintln!(
            "xtask check: the checks of {} need root, as the step does: run `sudo -E cargo xtask check {}`, \
             or run it inside `cargo xtask sandbox`",
            first.step,
            args.join(" ")
        );
        return Ok(2);
    }
    eprintln!("xtask check: building {} (cargo build -p {})", first.step, first.step);
    let binary = match run::build(ws, &first.step, true)? {
        Ok(binary) => binary,
        Err(_) => {
            println!(
                "{}: does not build: fix the errors cargo printed above, then run this again.",
                first.step
            );
            return Ok(1);
        }
    };
    let mut all_passed = true;
    for exercise in exercises {
        println!("\n{}: {} ({}; like {})", exercise.id, exercise.title, exercise.flag, exercise.docker);
        if !run::started(&binary, exercise)? {
            println!(
                "  Not started: `{} --help` does not list {} yet. The goal:\n",
                exercise.step,
                exercise.option()
            );
            println!("{}\n", indent(&exercise.goal, "    "));
        }
        let outcomes = run::run_checks(ws, exercise, &binary)?;
        for outcome in &outcomes {
            print_outcome(outcome);
        }
        let status = status_of(&outcomes);
        let passed = outcomes.iter().filter(|o| o.passed).count();
        println!("{passed} of {} checks passed.", outcomes.len());
        if status != Status::Passed {
            all_passed = false;
            print_next_hint(ws, exercise);
        }
    }
    Ok(if all_passed { 0 } else { 1 })
}

fn print_outcome(outcome: &Outcome) {
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
        let lines: Vec<&str> = outcome.stderr.lines().collect();
        label("stderr:", &lines[lines.len().saturating_sub(6)..].join("\n"));
    }
    if outcome.timed_out {
        println!("            (it ran for a minute, and was ended: does the step wait for something?)");
    }
}

/// Print the hint after the last one this exercise showed, and remember it.
fn print_next_hint(ws: &Workspace, exercise: &Exercise) {
    let state = ws.target_dir.join("exercises/hints").join(&exercise.id);
    let shown: usize = std::fs::read_to_string(&state).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
    let n = (shown + 1).min(exercise.hints.len());
    println!("\nHint {n} of {}:\n{}", exercise.hints.len(), indent(&exercise.hints[n - 1], "    "));
    let page = format!("book/src/exercises/step{}.md", exercise.number());
    match n < exercise.hints.len() {
        true => println!("(The next failing run shows hint {}. All the hints are in {page}.)", n + 1),
        false => println!(
            "(That was the last hint. The solution is exercises/solutions/{}.patch, if you must.)",
            exercise.id
        ),
    }
    // Losing this only means showing a hint again (a checker run by sudo, then without).
    let _ =
        std::fs::create_dir_all(state.parent().unwrap()).and_then(|()| std::fs::write(&state, n.to_string()));
}

/// `cargo xtask check --all`: one line per exercise.
fn all(ws: &Workspace, exercises: &[Exercise]) -> Result<i32> {
    let mut built: BTreeMap<&str, Option<PathBuf>> = BTreeMap::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    println!("{:<5} {:<11} {:<24} result", "step", "exercise", "flag");
    for exercise in exercises {
        if !built.contains_key(exercise.step.as_str()) {
            eprintln!("xtask check: building {}", exercise.step);
            built.insert(&exercise.step, run::build(ws, &exercise.step, false)?.ok());
        }
        let status = match &built[exercise.step.as_str()] {
            None => Status::DoesNotBuild,
            Some(binary) => evaluate(ws, exercise, binary)?.0,
        };
        println!("{:<5} {:<11} {:<24} {status}", exercise.number(), exercise.name(), exercise.flag);
        let kind = match status {
            Status::Failed { .. } => "failed".to_string(),
            other => other.to_string(),
        };
        *counts.entry(kind).or_default() += 1;
    }
    let order = ["passed", "failed", "not started", "does not build", "needs root"];
    let summary: Vec<String> =
        order.iter().filter_map(|kind| counts.get(*kind).map(|n| format!("{n} {kind}"))).collect();
    println!("{} exercises: {}", exercises.len(), summary.join(", "));
    if counts.contains_key("needs root") {
        println!(
            "The exercises that need root are checked when the checker runs as root: \
             `sudo -E cargo xtask check --all`, or inside `cargo xtask sandbox`."
        );
    }
    Ok(if counts.keys().all(|k| k == "passed") { 0 } else { 1 })
}

/// Write the book's exercise pages; returns the names of those that changed.
pub fn write_pages(root: &std::path::Path, exercises: &[Exercise]) -> Result<Vec<String>> {
    let dir = pages::dir(root);
    std::fs::create_dir_all(&dir)?;
    let mut written = Vec::new();
    for (name, text) in pages::generate(exercises) {
        let path = dir.join(&name);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&path, text)?;
            written.push(name);
        }
    }
    Ok(written)
}

fn indent(text: &str, by: &str) -> String {
    text.lines()
        .map(|l| if l.is_empty() { String::new() } else { format!("{by}{l}") })
        .collect::<Vec<_>>()
        .join("\n")
}
