//! `cargo xtask check NN [EXERCISE]`: check a learner's coding exercises for step NN.
//!
//! Each exercise is a spec, `exercises/NN-name.md` ([`spec`]): a goal, hints, and checks that
//! look at behaviour only (what the command prints inside, `/proc` and the host from
//! outside), never at the code, so that any correct solution passes. The checker builds the
//! step, runs each check ([`run`]), and prints it as passed or failed, with what it expected,
//! what it saw, and, on failure, the hint written for the check that failed ([`report`]).
//! Built as the user who runs it; where the checks need root and that user is not root, it
//! runs its own binary again through sudo (`crate::root_half`), which builds nothing. `--all` prints one line per exercise, for a
//! teacher walking round the room. A step added later needs one spec and one solution patch
//! per exercise, and no code here.
//!
//! Exit status: 0 if every check passed, 1 if any failed (or an exercise is not started or
//! does not build), 2 if the checks could not run (a usage error, root needed and no sudo,
//! or a machine that cannot run them: that is no attempt, and shows no hint).

pub mod pages;
pub mod report;
pub mod run;
pub mod spec;

use crate::root_half;
use anyhow::{bail, Result};
use report::{indent, print_hint, print_outcome};
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
    /// The machine could not run its checks (a tool missing, `setpriv` refused, the sandbox
    /// cannot show it): no verdict on the learner's work.
    NotCheckedHere,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Status::Passed => f.write_str("passed"),
            Status::Failed { passed, total } => write!(f, "failed ({passed} of {total} checks passed)"),
            Status::NotStarted => f.write_str("not started"),
            Status::DoesNotBuild => f.write_str("does not build"),
            Status::NeedsRoot => f.write_str("needs root"),
            Status::NotCheckedHere => f.write_str("not checked here"),
        }
    }
}

/// The status that a list of outcomes makes.
pub fn status_of(outcomes: &[Outcome]) -> Status {
    if outcomes.iter().any(|o| o.environment.is_some()) {
        return Status::NotCheckedHere;
    }
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
    if run::cannot_check_here(exercise).is_some() {
        return Ok((Status::NotCheckedHere, Vec::new()));
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
    // The root half (see `root_half`): the steps are built, by the user who asked.
    let as_root = args.iter().any(|a| a == root_half::FLAG);
    let rerun: Vec<String> = std::iter::once("check".to_string()).chain(args.iter().cloned()).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).filter(|a| *a != root_half::FLAG).collect();
    let ws = Workspace::this();
    if !as_root && !matches!(args[..], ["-h" | "--help"]) {
        eprintln!("xtask check: workspace {}", ws.root.display());
    }
    let exercises = spec::load_all(&ws.root)?;
    let how = How { as_root, rerun };
    match args[..] {
        ["--all"] => all(&ws, &exercises, &how),
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
            step(&ws, &chosen, &how)
        }
        [id] if id.len() > 3 && id.as_bytes()[2] == b'-' => {
            let chosen = choose(&exercises, &id[..2], Some(&id[3..]))?;
            step(&ws, &chosen, &how)
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

/// How this run came about: as the root half of a user's run, and the argv to run it again so.
struct How {
    as_root: bool,
    rerun: Vec<String>,
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
fn step(ws: &Workspace, exercises: &[Exercise], how: &How) -> Result<i32> {
    let first = &exercises[0];
    let binary = match how.as_root {
        // The user's half built it; root runs no cargo (not in sudo's PATH, and root's files
        // in target/ would stop the user's next build).
        true => built(ws, &first.step)?,
        false => {
            eprintln!("xtask check: building {} (cargo build -p {})", first.step, first.step);
            match run::build(ws, &first.step, true)? {
                Ok(binary) => binary,
                Err(_) => {
                    println!(
                        "{}: does not build: fix the errors cargo printed above, then run this again.",
                        first.step
                    );
                    return Ok(1);
                }
            }
        }
    };
    if exercises.iter().any(|e| e.needs_root) && !is_root() {
        return Ok(root_half::run(&how.rerun)?.unwrap_or(2));
    }
    if let Some(note) = run::only_root_mapped_note(exercises) {
        eprintln!("xtask check: {note}");
    }
    let mut result = 0;
    for exercise in exercises {
        println!("\n{}: {} ({}; like {})", exercise.id, exercise.title, exercise.flag, exercise.docker);
        let started = run::started(&binary, exercise)?;
        if !started {
            println!(
                "  Not started: `{} --help` does not list {} yet. The goal:\n",
                exercise.step,
                exercise.option()
            );
            println!("{}\n", indent(&exercise.goal, "    "));
        }
        if let Some(refusal) = run::cannot_check_here(exercise) {
            println!("  Not checked here: {refusal}");
            result = result.max(2);
            continue;
        }
        let outcomes = run::run_checks(ws, exercise, &binary)?;
        if let Some(problem) = outcomes.iter().find_map(|o| o.environment.as_deref()) {
            println!(
                "  Not checked: this machine could not run the checks ({problem}). That is not your \
                 solution's fault: it counts as no attempt, and shows no hint."
            );
            result = result.max(2);
            continue;
        }
        for outcome in &outcomes {
            print_outcome(outcome);
        }
        let status = status_of(&outcomes);
        let passed = outcomes.iter().filter(|o| o.passed).count();
        println!("{passed} of {} checks passed.", outcomes.len());
        if status != Status::Passed {
            result = result.max(1);
            print_hint(ws, exercise, &outcomes, started);
        }
    }
    Ok(result)
}

/// The step's binary as the user's half of this run built it.
fn built(ws: &Workspace, step: &str) -> Result<PathBuf> {
    let binary = ws.binary(step);
    if !binary.is_file() {
        bail!(
            "{} is not built: run `cargo xtask check` as yourself, without {}, and it builds it first",
            binary.display(),
            root_half::FLAG
        );
    }
    Ok(binary)
}

/// `cargo xtask check --all`: one line per exercise.
fn all(ws: &Workspace, exercises: &[Exercise], how: &How) -> Result<i32> {
    let mut built_steps: BTreeMap<&str, Option<PathBuf>> = BTreeMap::new();
    for exercise in exercises {
        if !built_steps.contains_key(exercise.step.as_str()) {
            let binary = match how.as_root {
                true => Some(built(ws, &exercise.step)?),
                false => {
                    eprintln!("xtask check: building {}", exercise.step);
                    run::build(ws, &exercise.step, false)?.ok()
                }
            };
            built_steps.insert(&exercise.step, binary);
        }
    }
    if exercises.iter().any(|e| e.needs_root) && !is_root() {
        if let Some(status) = root_half::run(&how.rerun)? {
            return Ok(status);
        }
    }
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    println!("{:<5} {:<11} {:<24} result", "step", "exercise", "flag");
    for exercise in exercises {
        let status = match &built_steps[exercise.step.as_str()] {
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
    let order = ["passed", "failed", "not started", "does not build", "needs root", "not checked here"];
    let summary: Vec<String> =
        order.iter().filter_map(|kind| counts.get(*kind).map(|n| format!("{n} {kind}"))).collect();
    println!("{} exercises: {}", exercises.len(), summary.join(", "));
    if counts.contains_key("needs root") {
        println!(
            "The exercises that need root are checked when sudo may run the checker's root half, \
             or inside `cargo xtask sandbox`."
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
