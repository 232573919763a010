//! The decision: [`assess`] turns a [`Machine`] into the [`Report`]: which step runs as you,
//! with sudo and in the sandbox, and the findings for those that cannot. It reads nothing and
//! runs nothing, so the tests feed it machines this one is not.
//!
//! Called by `mod.rs` (`cargo xtask doctor`), by the tests, and by `sandbox.rs`
//! ([`why_user_namespaces_fail`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::findings::{advice, finding, Cause};
use super::machine::{Machine, Outcome, Sudo};
use super::needs::{Needs, Probe, BRIDGED, NEEDS, SETNS_ENTER, TOOLS};
use super::report::{facts, Cell, Finding, Report, Row};

/// Who a probe ran as, which decides the causes that may apply.
#[derive(Clone, Copy, PartialEq, Eq)]
enum As {
    /// You, without CAP_SYS_ADMIN.
    User,
    /// Root: you, if you are root, or sudo.
    Root,
}

/// Decide, from the facts alone, what runs where and what to do about the rest.
pub fn assess(m: &Machine) -> Report {
    let mut causes: Vec<Cause> = Vec::new();
    let mut rows = Vec::new();
    let you_as = if m.you_are_root { As::Root } else { As::User };
    // The sandbox: root in a user namespace of yours, if you may make one with a network.
    let sandbox = m.as_you.get(&Probe::Sandbox);
    for needs in NEEDS {
        let as_you = cell(m, needs, you_as, &m.as_you, &mut causes);
        let with_sudo = if m.you_are_root {
            as_you.clone()
        } else {
            match &m.sudo {
                Sudo::Works | Sudo::NotNeeded => cell(m, needs, As::Root, &m.as_root, &mut causes),
                Sudo::NeedsPassword => Cell::Untried,
                Sudo::Refused(_) | Sudo::Missing => Cell::NoSudo,
            }
        };
        let in_sandbox = match sandbox {
            Some(Ok(())) => {
                // Root there may make every namespace; the bridge needs the kernel's modules,
                // and step13 its seccomp filters, as anywhere: what those probes, run as you,
                // found.
                let mut outcomes: BTreeMap<Probe, Outcome> =
                    Probe::ALL.iter().map(|p| (*p, Ok(()))).collect();
                for kernel in [Probe::Bridge, Probe::Seccomp] {
                    match m.as_you.get(&kernel) {
                        Some(found) => outcomes.insert(kernel, found.clone()),
                        None => outcomes.remove(&kernel),
                    };
                }
                cell(m, needs, As::Root, &outcomes, &mut causes)
            }
            Some(Err(err)) => Cell::No(number(&mut causes, cause(m, Probe::Sandbox, you_as, err))),
            None => Cell::Untried,
        };
        rows.push(Row {
            step: needs.name.to_string(),
            as_you,
            with_sudo,
            in_sandbox,
            why: needs.why.to_string(),
        });
    }
    for step in m.steps.iter().filter(|s| !NEEDS.iter().any(|n| n.name == s.as_str())) {
        rows.insert(
            rows.len() - 1, // before setns-enter, with the steps
            Row {
                step: step.clone(),
                as_you: Cell::Unknown,
                with_sudo: Cell::Unknown,
                in_sandbox: Cell::Unknown,
                why: "doctor does not know this step yet: add it to NEEDS in xtask/src/doctor/needs.rs"
                    .into(),
            },
        );
    }
    let packaged_tool_missing =
        m.missing_tools.iter().any(|t| TOOLS.iter().any(|(n, p, _)| n == t && !p.is_empty()));
    if packaged_tool_missing {
        number(&mut causes, Cause::ToolsMissing);
    }
    let mut findings: Vec<Finding> = causes.iter().map(|c| finding(m, c)).collect();
    findings.extend(advice(m));
    Report { you: m.you.clone(), rows, facts: facts(m), findings }
}

/// One cell: whether the step `needs` runs as `who`, given the probes that ran as `who`.
fn cell(
    m: &Machine,
    needs: &Needs,
    who: As,
    outcomes: &BTreeMap<Probe, Outcome>,
    causes: &mut Vec<Cause>,
) -> Cell {
    if needs.root && who == As::User {
        return Cell::NeedsRoot;
    }
    // setns-enter makes no namespace: as root it joins any container, through /proc/PID/ns; as
    // you, only yours, which exist where you may make a user namespace (step06, step07).
    let probes = if needs.name == SETNS_ENTER && who == As::Root { &[][..] } else { needs.probes };
    if needs.name == SETNS_ENTER && !m.proc_mounted {
        return Cell::No(number(causes, Cause::NoProc));
    }
    // Our AppArmor profile lets the steps make user namespaces, but not unshare, which the
    // probes run: trust the profile for the steps.
    let profile_allows = who == As::User && m.apparmor_restrict == Some(1) && m.apparmor_profile_installed;
    for p in probes {
        // As an ordinary user, steps 07 on make no bridge (`lo` only, below); and without `ip`
        // doctor could not try one, which the facts say.
        let bridge_untried = *p == Probe::Bridge && (who == As::User || !outcomes.contains_key(p));
        if bridge_untried {
            continue;
        }
        match outcomes.get(p) {
            Some(Ok(())) => {}
            Some(Err(_)) if profile_allows && p.makes_user_namespace() => {}
            Some(Err(err)) => return Cell::No(number(causes, cause(m, *p, who, err))),
            None => return Cell::Untried,
        }
    }
    // Steps 07 on put the container on a bridge, whose host end needs CAP_NET_ADMIN.
    if BRIDGED.contains(&needs.name) && who == As::User {
        return Cell::LoOnly;
    }
    Cell::Yes
}

/// The finding number (from 1) for `cause`, adding it if it is new.
fn number(causes: &mut Vec<Cause>, cause: Cause) -> usize {
    match causes.iter().position(|c| *c == cause) {
        Some(i) => i + 1,
        None => {
            causes.push(cause);
            causes.len()
        }
    }
}

/// Why `probe`, run as `who`, failed with `err`: the first known reason that applies.
fn cause(m: &Machine, probe: Probe, who: As, err: &str) -> Cause {
    // prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER) says EINVAL where the kernel has no filters.
    if probe == Probe::Seccomp && err.contains("Invalid argument") {
        return Cause::NoSeccompFilter;
    }
    if !m.proc_mounted {
        return Cause::NoProc;
    }
    if m.wsl == Some(1) {
        return Cause::Wsl1;
    }
    // rtnetlink's answer when the kernel has no driver for the link's kind (EOPNOTSUPP); `ip`
    // says "Error: Unknown device type." where the kernel explains, the errno elsewhere.
    let unsupported = err.contains("Operation not supported") || err.contains("Unknown device type");
    if probe == Probe::Bridge && unsupported {
        return Cause::NoBridgeModule;
    }
    if probe.makes_user_namespace() {
        if m.max_user_namespaces == Some(0) {
            return Cause::UserNamespacesOff;
        }
        if who == As::User && m.unprivileged_userns_clone == Some(0) {
            return Cause::UnprivilegedOff;
        }
        if who == As::User && m.apparmor_restrict == Some(1) {
            return Cause::AppArmor;
        }
    }
    if m.seccomp == Some(2) || m.dockerenv || m.containerenv {
        return Cause::Container;
    }
    Cause::Unexplained(probe, err.to_string())
}

/// Why user namespaces fail here, for the sandbox's error: the findings about them, as text.
pub fn why_user_namespaces_fail(m: &Machine) -> String {
    let who = if m.you_are_root { As::Root } else { As::User };
    let cause = cause(m, Probe::Sandbox, who, "");
    let finding = match cause {
        Cause::Unexplained(..) => return "run cargo xtask doctor to see more".to_string(),
        cause => finding(m, &cause),
    };
    let mut text = finding.title;
    for fix in &finding.fixes {
        let _ = write!(text, "\n  $ {}", fix.replace('\n', "\n    "));
    }
    text
}
