//! The scripts in `book/transcripts/NAME.txt`: what they say ([`parse`]), where their
//! transcripts go (`book/src/transcripts/`, one file per cgroup layout for a script that says
//! `%cgroups LAYOUT...`), and which layout this machine has ([`cgroup_layout`]). Called by
//! `cargo xtask transcripts` (xtask/src/main.rs), by [`super::run`] and [`super::normalise`],
//! and by xtask/tests/book.rs, which compares the committed transcripts with fresh ones.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// A parsed script.
#[derive(Debug, Clone)]
pub struct Script {
    /// `step02`, `step02-outside`: the output is `book/src/transcripts/NAME.txt`.
    pub name: String,
    pub as_nobody: bool,
    pub session: Option<String>,
    /// `%cgroups LAYOUT...`: what it prints depends on how the machine mounts its cgroups, and
    /// it is recorded once for each of these layouts (`hybrid`, `v2` or `v1`: see
    /// [`cgroup_layout`]), in `NAME.LAYOUT.txt`. None: the same everywhere, in `NAME.txt`.
    pub cgroups: Option<Vec<String>>,
    pub commands: Vec<String>,
}

/// The cgroup layouts a script may be recorded for.
pub const LAYOUTS: [&str; 3] = ["hybrid", "v2", "v1"];

impl Script {
    /// The transcript's file name (in [`output_dir`]) for machines whose cgroups are `layout`:
    /// `NAME.txt` for a script that prints the same everywhere, `NAME.LAYOUT.txt` for one
    /// recorded per layout, and None where it is not recorded for that layout.
    pub fn file_for(&self, layout: &str) -> Option<String> {
        match &self.cgroups {
            None => Some(format!("{}.txt", self.name)),
            Some(layouts) if layouts.iter().any(|l| l == layout) => {
                Some(format!("{}.{layout}.txt", self.name))
            }
            Some(_) => None,
        }
    }

    /// The transcript's file name for this machine ([`cgroup_layout`]), if it has one.
    pub fn file_here(&self) -> Option<String> {
        self.file_for(cgroup_layout())
    }

    /// Every file name the script's transcripts have, one per layout it is recorded for.
    pub fn files(&self) -> Vec<String> {
        match &self.cgroups {
            None => vec![format!("{}.txt", self.name)],
            Some(layouts) => layouts.iter().filter_map(|l| self.file_for(l)).collect(),
        }
    }
}

/// How this machine mounts its cgroups: `v2` (one hierarchy at /sys/fs/cgroup), `hybrid` (v1
/// controllers and an empty v2 at /sys/fs/cgroup/unified) or `v1`.
pub fn cgroup_layout() -> &'static str {
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "v2"
    } else if Path::new("/sys/fs/cgroup/unified/cgroup.controllers").exists() {
        "hybrid"
    } else {
        "v1"
    }
}

/// Where the scripts are, and where their transcripts go.
pub fn scripts_dir(root: &Path) -> PathBuf {
    root.join("book/transcripts")
}
pub fn output_dir(root: &Path) -> PathBuf {
    root.join("book/src/transcripts")
}

/// Every script, by name.
pub fn scripts(root: &Path) -> Result<Vec<Script>> {
    let mut scripts = Vec::new();
    for entry in std::fs::read_dir(scripts_dir(root))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "txt") {
            scripts.push(parse(&path)?);
        }
    }
    scripts.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(scripts)
}

/// Read one script.
pub fn parse(path: &Path) -> Result<Script> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut script = Script {
        name: path.file_stem().unwrap().to_string_lossy().into_owned(),
        as_nobody: false,
        session: None,
        cgroups: None,
        commands: Vec::new(),
    };
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if let Some(command) = line.strip_prefix("$ ") {
            script.commands.push(command.to_string());
        } else if line == "%as nobody" {
            script.as_nobody = true;
        } else if let Some(session) = line.strip_prefix("%session ") {
            script.session = Some(session.to_string());
        } else if let Some(layouts) = line.strip_prefix("%cgroups ") {
            let layouts: Vec<String> = layouts.split_whitespace().map(String::from).collect();
            if let Some(bad) = layouts.iter().find(|l| !LAYOUTS.contains(&l.as_str())) {
                bail!("{}:{}: `%cgroups {bad}`: a layout is one of {LAYOUTS:?}", path.display(), n + 1);
            }
            script.cgroups = Some(layouts);
        } else if !(line.is_empty() || line.starts_with('#')) {
            bail!(
                "{}:{}: expected `$ command`, `# note`, `%as nobody`, `%session COMMAND` or `%cgroups LAYOUT...`",
                path.display(),
                n + 1
            );
        }
    }
    if script.as_nobody && script.commands.first().map(String::as_str) != Some("whoami") {
        bail!(
            "{}: a script with `%as nobody` must begin with `$ whoami`, so the reader sees who runs it",
            path.display()
        );
    }
    Ok(script)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_parse() {
        let dir = testkit::fresh_dir("xtask-parse");
        let path = dir.join("stepXX.txt");
        std::fs::write(&path, "# a note\n%as nobody\n$ whoami\n\n$ echo 'a b'\n").unwrap();
        let script = parse(&path).unwrap();
        assert!(script.as_nobody);
        assert_eq!(script.commands, ["whoami", "echo 'a b'"]);
        assert_eq!(script.cgroups, None);
        assert_eq!(script.files(), ["stepXX.txt"]);
        assert_eq!(script.file_for("v1").as_deref(), Some("stepXX.txt"));
        std::fs::write(
            &path,
            "%cgroups hybrid
$ true
",
        )
        .unwrap();
        let script = parse(&path).unwrap();
        assert_eq!(script.cgroups, Some(vec!["hybrid".to_string()]));
        assert_eq!(script.files(), ["stepXX.hybrid.txt"]);
        assert_eq!(script.file_for("v2"), None);
        std::fs::write(&path, "%cgroups hybrid v2\n$ true\n").unwrap();
        assert_eq!(parse(&path).unwrap().files(), ["stepXX.hybrid.txt", "stepXX.v2.txt"]);
        std::fs::write(&path, "%cgroups v3\n$ true\n").unwrap();
        assert!(parse(&path).is_err(), "no such layout");
        std::fs::write(&path, "%as nobody\n$ id -u\n").unwrap();
        assert!(parse(&path).is_err(), "whoami must come first");
        std::fs::write(&path, "id -u\n").unwrap();
        assert!(parse(&path).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// nobody makes the directory this test used, `/tmp/xtask-parse-PID`, before it runs as
    /// root: the test must neither write there nor remove what nobody put there.
    #[test]
    fn parse_test_directory_made_first_by_nobody_is_not_used() {
        let attack = testkit::replay::Attack {
            victim: ":",
            plant: "mkdir -m 777 /tmp/xtask-parse-$1 && echo nobodys > /tmp/xtask-parse-$1/marker",
        };
        if let Some(replayed) = testkit::replay::replay(&attack, "transcripts::script::tests::scripts_parse")
        {
            assert_eq!(replayed.status, 0, "{}", replayed.out.stderr);
            assert!(replayed.changes.is_empty(), "{:#?}", replayed.changes);
        }
    }
}
