//! What doctor prints: the [`Report`] (who you are, the table of [`Row`]s, the facts about
//! this machine, the [`Finding`]s) and how it is printed.
//!
//! `assess.rs` fills a Report, with [`facts`] from here; `mod.rs` prints it.

use std::fmt::{self, Write as _};

use super::machine::{kernel_version, Cgroups, Machine, Sudo};
use super::needs::{Probe, APPARMOR_PROFILE, TOOLS};

/// One cell of the table: can this step run, as whom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    Yes,
    /// step07 without CAP_NET_ADMIN on the host: it runs, with `lo` only.
    LoOnly,
    /// It needs root, which you are not (steps 02-05).
    NeedsRoot,
    /// It cannot run: finding number N says why and how to fix it.
    No(usize),
    /// Doctor did not try (sudo asks for a password).
    Untried,
    /// There is no sudo to try with.
    NoSudo,
    /// A step doctor does not know (not in `NEEDS`).
    Unknown,
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Cell::Yes => f.write_str("yes"),
            Cell::LoOnly => f.write_str("lo only"),
            Cell::NeedsRoot => f.write_str("needs root"),
            Cell::No(n) => write!(f, "no, see {n}"),
            Cell::Untried => f.write_str("untried"),
            Cell::NoSudo => f.write_str("no sudo"),
            Cell::Unknown => f.write_str("?"),
        }
    }
}

/// One row of the table.
#[derive(Clone, Debug)]
pub struct Row {
    pub step: String,
    pub as_you: Cell,
    pub with_sudo: Cell,
    pub in_sandbox: Cell,
    pub why: String,
}

/// Something that stops a step here, or that you should know, with the commands that fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub title: String,
    pub lines: Vec<String>,
    /// Commands, ready to paste.
    pub fixes: Vec<String>,
}

/// What doctor prints: who you are, the table, facts about the machine, and the findings.
#[derive(Clone, Debug)]
pub struct Report {
    pub you: String,
    pub rows: Vec<Row>,
    pub facts: Vec<(String, String)>,
    pub findings: Vec<Finding>,
}

/// The facts about this machine that the table rests on, one line each.
pub(super) fn facts(m: &Machine) -> Vec<(String, String)> {
    let mut facts = vec![];
    let kernel = match (m.kernel.as_deref(), m.kernel.as_deref().and_then(kernel_version)) {
        (Some(release), Some(version)) => {
            let features = [
                ("openat2 (5.6, for --rootfs)", (5, 6)),
                ("CLOSE_RANGE_CLOEXEC (5.11)", (5, 11)),
                ("time namespaces (5.6, for step09)", (5, 6)),
                ("overlayfs in a user namespace (5.11, for step11)", (5, 11)),
            ];
            let has: Vec<&str> = features.iter().filter(|(_, at)| version >= *at).map(|(f, _)| *f).collect();
            let lacks: Vec<&str> = features.iter().filter(|(_, at)| version < *at).map(|(f, _)| *f).collect();
            match (has.is_empty(), lacks.is_empty()) {
                (_, true) => format!("{release}: has {}", has.join(", ")),
                (true, _) => format!("{release}: lacks {}", lacks.join(", ")),
                _ => format!("{release}: has {}; lacks {}", has.join(", "), lacks.join(", ")),
            }
        }
        (Some(release), None) => release.to_string(),
        (None, _) => "unknown".into(),
    };
    facts.push(("kernel".into(), kernel));
    // The three sysctls that decide whether an ordinary user may make a user namespace.
    let sysctl = |v: Option<i64>, fine: i64| match v {
        None if !m.proc_mounted => "unknown: /proc is not mounted".to_string(),
        None => "not on this kernel (fine)".to_string(),
        Some(v) if v == fine || (fine > 0 && v > 0) => format!("{v} (fine)"),
        Some(v) => format!("{v}"),
    };
    facts.push(("user.max_user_namespaces".into(), sysctl(m.max_user_namespaces, 1)));
    facts.push(("kernel.unprivileged_userns_clone".into(), sysctl(m.unprivileged_userns_clone, 1)));
    let mut apparmor = sysctl(m.apparmor_restrict, 0);
    if m.apparmor_profile_installed {
        apparmor.push_str(&format!("; {APPARMOR_PROFILE} is installed (it covers the steps, not unshare)"));
    }
    facts.push(("kernel.apparmor_restrict_unprivileged_userns".into(), apparmor));
    if let Some(map) = &m.uid_map {
        facts.push((
            "you are in".into(),
            format!("a user namespace (uid_map {map}), as in the sandbox: its root is not the host's"),
        ));
    }
    let sudo = match &m.sudo {
        Sudo::NotNeeded => "not needed: doctor runs as root".into(),
        Sudo::Works => "works without a password: doctor tried it".into(),
        Sudo::NeedsPassword => "asks for a password: doctor did not try it".into(),
        Sudo::Refused(said) => format!("refused: {said}"),
        Sudo::Missing => "not installed".into(),
    };
    facts.push(("sudo".into(), sudo));
    let mut signs = Vec::new();
    if m.dockerenv {
        signs.push("/.dockerenv");
    }
    if m.containerenv {
        signs.push("/run/.containerenv");
    }
    if m.seccomp == Some(2) {
        signs.push("a seccomp filter (Seccomp: 2)");
    }
    let container = if signs.is_empty() {
        "none seen".to_string()
    } else {
        let probes_ok = m.as_you.values().chain(m.as_root.values()).all(Result::is_ok);
        let verdict = if probes_ok { "namespaces work all the same" } else { "see the findings" };
        format!("maybe: {}; {verdict}", signs.join(", "))
    };
    facts.push(("container".into(), container));
    let wsl = match m.wsl {
        Some(1) => "WSL 1: no namespaces at all",
        Some(_) => "WSL 2: a real Linux kernel",
        None => "no",
    };
    facts.push(("WSL".into(), wsl.into()));
    let cgroups = match m.cgroups {
        Cgroups::V2 => "v2 (cgroup2 at /sys/fs/cgroup)",
        Cgroups::Hybrid => "hybrid: v1 controllers, v2 at /sys/fs/cgroup/unified",
        Cgroups::V1 => "v1",
        Cgroups::Unknown => "unknown: nothing at /sys/fs/cgroup, or no /proc/self/mountinfo",
    };
    facts.push(("cgroups".into(), cgroups.into()));
    let root = match m.root_shared {
        Some(true) => "shared (systemd's default): so step05 on make their mounts private first",
        Some(false) => "private; the steps make their mounts private anyway, for where it is shared",
        None => "unknown: no /proc/self/mountinfo",
    };
    facts.push(("/ is mounted".into(), root.into()));
    let release = m.kernel.as_deref().unwrap_or("RELEASE");
    let modules = match (m.kernel_loads_modules, m.modules_installed) {
        (false, _) => "none: what this kernel has is built in (there is no /proc/modules)".to_string(),
        (true, Some(true)) => format!("installed for the running kernel (/lib/modules/{release})"),
        (true, Some(false)) => {
            format!("/lib/modules/{release} is missing: not installed for the running kernel")
        }
        (true, None) => "unknown".to_string(),
    };
    facts.push(("kernel modules".into(), modules));
    let bridge = match m.as_root.get(&Probe::Bridge).or(m.as_you.get(&Probe::Bridge)) {
        Some(Ok(())) => "made, in a throwaway network namespace (fine)".to_string(),
        Some(Err(err)) => format!("could not be made: {err}"),
        None => "untried: doctor makes them with ip, which is not here".to_string(),
    };
    facts.push(("a bridge and a veth pair".into(), bridge));
    let seccomp = match m.as_you.get(&Probe::Seccomp).or(m.as_root.get(&Probe::Seccomp)) {
        Some(Ok(())) => "installed, in a throwaway process (fine: step13 installs its own)".to_string(),
        Some(Err(err)) => format!("could not be installed: {err}"),
        None => "untried".to_string(),
    };
    facts.push(("a seccomp filter".into(), seccomp));
    let mut tools = if m.missing_tools.is_empty() {
        format!("all {} found", TOOLS.len())
    } else {
        format!("missing: {}", m.missing_tools.join(", "))
    };
    if !m.tools_outside_path.is_empty() {
        let outside = m.tools_outside_path.join(", ");
        tools.push_str(&format!("; not in your PATH, type them in full: {outside}"));
    }
    facts.push(("tools".into(), tools));
    facts
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        writeln!(f, "Which steps run here, for {}:\n", self.you)?;
        let header = ["step", "as you", "with sudo", "in sandbox", "why"];
        let cells: Vec<[String; 5]> = self
            .rows
            .iter()
            .map(|r| {
                [
                    r.step.clone(),
                    r.as_you.to_string(),
                    r.with_sudo.to_string(),
                    r.in_sandbox.to_string(),
                    r.why.clone(),
                ]
            })
            .collect();
        let width = |i: usize| cells.iter().map(|c| c[i].len()).chain([header[i].len()]).max().unwrap_or(0);
        let widths: Vec<usize> = (0..4).map(width).collect();
        let line = |cells: [&str; 5]| {
            let mut line = String::from("  ");
            for (i, w) in widths.iter().enumerate() {
                let _ = write!(line, "{:w$}  ", cells[i]);
            }
            line.push_str(cells[4]);
            line
        };
        writeln!(f, "{}", line(header))?;
        for c in &cells {
            writeln!(f, "{}", line([&c[0], &c[1], &c[2], &c[3], &c[4]]))?;
        }
        writeln!(f, "\nThis machine:")?;
        let width = self.facts.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (key, value) in &self.facts {
            writeln!(f, "  {key:width$}  {value}")?;
        }
        if self.findings.is_empty() {
            return writeln!(f, "\nNothing to fix: every step runs here.");
        }
        writeln!(f, "\nFindings:")?;
        for (i, finding) in self.findings.iter().enumerate() {
            writeln!(f, "  {}. {}", i + 1, finding.title)?;
            for line in &finding.lines {
                writeln!(f, "     {line}")?;
            }
            for fix in &finding.fixes {
                if fix.contains('\n') {
                    // Flush left, with no prompt, so that a here-document pasted as is still ends
                    // at its EOF line.
                    writeln!(f, "{fix}")?;
                } else {
                    writeln!(f, "     $ {fix}")?;
                }
            }
        }
        Ok(())
    }
}
