//! An exercise's spec, `exercises/NN-name.md`: what to build, hints, and the checks.
//!
//! The spec is Markdown, so that it reads well on its own and its prose goes into the book
//! as it is. Its shape (exercises/README.md says it for the people who write them):
//!
//! ```text
//! # Title
//!
//! - flag: `--hostname NAME`        the option the learner adds ("not started" until --help lists it)
//! - docker: `docker run --hostname NAME`
//! - step: step02-uts               the package the exercise changes
//! - files: step02-uts/src/main.rs  what to change, comma-separated
//! - time: 15 minutes
//! - needs: root                    root | nothing: whether the checks need root
//! - runs as: root                  root | nobody: who runs the step when the checker is root
//! - rootfs: yes                    optional: $ROOTFS is a root filesystem from tools/mkrootfs
//! - sandbox: no: WHY               optional: the checks cannot run in `cargo xtask sandbox`
//!
//! The goal, in paragraphs: what the program should do, as one can observe it.
//!
//! ## Hints
//!
//! 1. The first hint (continued on lines indented by 3 spaces).
//! 2. ...
//!
//! ## Checks
//!
//! ### What this check expects, in words
//!
//! hint: 2                         optional: the hint to show when this check fails
//!
//! (a sh block: the script; then one or more blocks tagged "expected": what its stdout must
//! be, any one of them)
//! ```

use anyhow::{bail, ensure, Context, Result};
use std::path::Path;

/// One exercise, as its spec describes it.
#[derive(Debug, Clone)]
pub struct Exercise {
    /// `02-hostname`, the spec's file name; its solution is `exercises/solutions/02-hostname.patch`.
    pub id: String,
    pub title: String,
    /// The option the learner adds, as `--help` would show it: `--hostname NAME`.
    pub flag: String,
    /// The `docker run` flag it imitates, as Markdown.
    pub docker: String,
    /// The package: `step02-uts`.
    pub step: String,
    pub files: Vec<String>,
    pub time: String,
    /// Whether the checks need root (they make throwaway namespaces, or the step does).
    pub needs_root: bool,
    /// Whether the step runs as `nobody` when the checker runs as root.
    pub as_nobody: bool,
    /// Whether the checks get a root filesystem in `$ROOTFS`.
    pub rootfs: bool,
    /// Why the checks cannot run in `cargo xtask sandbox`, if they cannot (`- sandbox: no: WHY`).
    pub not_in_sandbox: Option<String>,
    /// The word `--help` lists once the learner has started, where the option is one the step
    /// already has and the exercise changes its value (`- started: TOP:...:BOTTOM`).
    pub started_by: Option<String>,
    /// What to build, as Markdown.
    pub goal: String,
    /// The hints, in order, as Markdown.
    pub hints: Vec<String>,
    pub checks: Vec<Check>,
}

/// One check: a shell script, and the outputs that count as right.
#[derive(Debug, Clone)]
pub struct Check {
    /// What it expects, in words (Markdown).
    pub title: String,
    pub script: String,
    /// The script's stdout must be one of these, after the variables are filled in.
    pub expected: Vec<String>,
    /// The hint written for this check (0-based), shown when it fails: a line `hint: N` under
    /// its title. A check without one shows the next hint in order.
    pub hint: Option<usize>,
}

impl Exercise {
    /// `02`, the step's number.
    pub fn number(&self) -> &str {
        &self.id[..2]
    }

    /// `hostname`, the exercise's name within its step.
    pub fn name(&self) -> &str {
        &self.id[3..]
    }

    /// `--hostname`, the option's name alone.
    pub fn option(&self) -> &str {
        self.flag.split_whitespace().next().unwrap_or_default()
    }

    /// The word whose presence in `--help` says the learner has started: the option, unless the
    /// spec names another.
    pub fn started_word(&self) -> &str {
        self.started_by.as_deref().unwrap_or_else(|| self.option())
    }
}

/// Every exercise in `root/exercises/`, in order of their ids.
pub fn load_all(root: &Path) -> Result<Vec<Exercise>> {
    let dir = root.join("exercises");
    let mut exercises = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let Some(id) = name.strip_suffix(".md") else { continue };
        if !is_id(id) {
            continue; // README.md
        }
        let text = std::fs::read_to_string(&path)?;
        exercises.push(parse(id, &text).with_context(|| format!("exercises/{name}"))?);
    }
    exercises.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(exercises)
}

/// Whether `id` looks like `02-hostname`: two digits, a dash, a lowercase name.
fn is_id(id: &str) -> bool {
    let b = id.as_bytes();
    b.len() > 3
        && b[..2].iter().all(u8::is_ascii_digit)
        && b[2] == b'-'
        && b[3..].iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// Read one spec; `id` is its file name without `.md`.
pub fn parse(id: &str, text: &str) -> Result<Exercise> {
    ensure!(is_id(id), "the file name must be NN-name.md, such as 02-hostname.md");
    let mut lines = text.lines().peekable();
    let title = lines
        .next()
        .and_then(|l| l.strip_prefix("# "))
        .context("the first line must be the title: # Title")?
        .trim()
        .to_string();

    // The list of keys, then the goal up to "## Hints".
    let mut keys: Vec<(String, String)> = Vec::new();
    let mut goal = Vec::new();
    for line in lines.by_ref() {
        if line == "## Hints" {
            break;
        }
        match line.strip_prefix("- ").and_then(|l| l.split_once(": ")) {
            Some((key, value)) if goal.is_empty() && KEYS.contains(&key) => {
                keys.push((key.to_string(), value.trim().to_string()))
            }
            _ if goal.is_empty() && line.trim().is_empty() => {}
            _ => goal.push(line),
        }
    }
    let key = |name: &str| -> Result<String> {
        let value = keys.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        value.with_context(|| format!("no '- {name}: ...' line under the title"))
    };
    let unquote = |s: String| s.trim_matches('`').to_string();
    let needs_root = match key("needs")?.as_str() {
        "root" => true,
        "nothing" => false,
        other => bail!("needs: {other}: expected root or nothing"),
    };
    let as_nobody = match key("runs as")?.as_str() {
        "root" => false,
        "nobody" => true,
        other => bail!("runs as: {other}: expected root or nobody"),
    };
    let rootfs = match key("rootfs").unwrap_or_else(|_| "no".into()).as_str() {
        "yes" => true,
        "no" => false,
        other => bail!("rootfs: {other}: expected yes or no"),
    };
    let not_in_sandbox = match key("sandbox").ok() {
        None => None,
        Some(value) => match value.strip_prefix("no: ") {
            Some(why) => Some(why.trim().to_string()),
            None => bail!("sandbox: {value}: expected 'no: WHY', or no sandbox line"),
        },
    };
    let step = key("step")?;
    ensure!(step.get(4..6) == Some(&id[..2]), "step: {step} is not step {}", &id[..2]);

    // Hints: numbered items up to "## Checks".
    let mut hints: Vec<Vec<&str>> = Vec::new();
    for line in lines.by_ref() {
        if line == "## Checks" {
            break;
        }
        let numbered =
            line.split_once(". ").filter(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        match numbered {
            Some((_, first)) => hints.push(vec![first]),
            None => match hints.last_mut() {
                Some(hint) => hint.push(line.strip_prefix("   ").unwrap_or(line)),
                None if line.trim().is_empty() => {}
                None => bail!("under ## Hints, a line that is not in a numbered hint: {line:?}"),
            },
        }
    }
    let hints: Vec<String> = hints.iter().map(|h| h.join("\n").trim().to_string()).collect();
    ensure!(!hints.is_empty(), "no hints: give two or three, under ## Hints");

    // Checks: "### title", a sh block, then expected blocks.
    let mut checks: Vec<Check> = Vec::new();
    while let Some(line) = lines.next() {
        if let Some(title) = line.strip_prefix("### ") {
            checks.push(Check {
                title: title.trim().to_string(),
                script: String::new(),
                expected: Vec::new(),
                hint: None,
            });
            continue;
        }
        if let Some(n) = line.strip_prefix("hint: ") {
            let check = checks.last_mut().context("a hint: line before the first ### check")?;
            let n: usize =
                n.trim().parse().ok().filter(|n| (1..=hints.len()).contains(n)).with_context(|| {
                    format!(
                        "check '{}': hint: {n}: expected a hint's number, 1 to {}",
                        check.title,
                        hints.len()
                    )
                })?;
            check.hint = Some(n - 1);
            continue;
        }
        let Some(tag) = line.strip_prefix("```") else { continue };
        let check = checks.last_mut().context("a code block before the first ### check")?;
        let mut block = String::new();
        for line in lines.by_ref() {
            if line == "```" {
                break;
            }
            block += line;
            block += "\n";
        }
        match tag {
            "sh" if check.script.is_empty() => check.script = block,
            "sh" => bail!("check '{}': two sh blocks", check.title),
            "expected" => check.expected.push(block),
            other => bail!("check '{}': a block tagged '{other}': expected sh or expected", check.title),
        }
    }
    ensure!(!checks.is_empty(), "no checks: give them under ## Checks, each under a ### title");
    for check in &checks {
        ensure!(!check.script.is_empty(), "check '{}' has no sh block", check.title);
        ensure!(!check.expected.is_empty(), "check '{}' has no expected block", check.title);
    }

    Ok(Exercise {
        id: id.to_string(),
        title,
        flag: unquote(key("flag")?),
        docker: key("docker")?,
        step,
        files: key("files")?.split(',').map(|f| f.trim().to_string()).collect(),
        time: key("time")?,
        needs_root,
        as_nobody,
        rootfs,
        not_in_sandbox,
        started_by: key("started").ok(),
        goal: goal.join("\n").trim().to_string(),
        hints,
        checks,
    })
}

const KEYS: &[&str] =
    &["flag", "docker", "step", "files", "time", "needs", "runs as", "rootfs", "sandbox", "started"];

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = "# A title\n\n- flag: `--x NAME`\n- docker: `docker run --x`\n- step: step02-uts\n\
        - files: a.rs, b.rs\n- time: 5 minutes\n- needs: root\n- runs as: nobody\n\nThe goal.\n\n\
        More goal.\n\n## Hints\n\n1. First,\n   continued.\n\n2. Second.\n\n## Checks\n\n### It works\n\n\
        hint: 2\n\n```sh\nstep hostname\n```\n\n```expected\nbox\n```\n\n```expected\ncrate\n```\n";

    #[test]
    fn a_spec_is_read() {
        let ex = parse("02-x", SPEC).unwrap();
        assert_eq!((ex.title.as_str(), ex.flag.as_str(), ex.option()), ("A title", "--x NAME", "--x"));
        assert_eq!((ex.number(), ex.name(), ex.step.as_str()), ("02", "x", "step02-uts"));
        assert_eq!(ex.files, ["a.rs", "b.rs"]);
        assert!(ex.needs_root && ex.as_nobody && !ex.rootfs);
        assert_eq!(ex.goal, "The goal.\n\nMore goal.");
        assert_eq!(ex.hints, ["First,\ncontinued.", "Second."]);
        assert_eq!(ex.checks.len(), 1);
        assert_eq!(ex.checks[0].script, "step hostname\n");
        assert_eq!(ex.checks[0].expected, ["box\n", "crate\n"]);
        assert_eq!(ex.checks[0].hint, Some(1));
    }

    #[test]
    fn mistakes_are_named() {
        let err = |id: &str, text: &str| format!("{:#}", parse(id, text).unwrap_err());
        assert!(err("2-x", SPEC).contains("NN-name.md"));
        assert!(err("03-x", SPEC).contains("is not step 03"));
        assert!(err("02-x", &SPEC.replace("- needs: root\n", "")).contains("'- needs: ...'"));
        assert!(err("02-x", &SPEC.replace("```expected\nbox\n```", "```text\nbox\n```"))
            .contains("tagged 'text'"));
        assert!(err("02-x", &SPEC.replace("hint: 2", "hint: 3")).contains("1 to 2"));
    }
}
