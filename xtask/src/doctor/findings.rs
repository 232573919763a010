//! The reasons doctor knows for a probe to fail ([`Cause`]), each with its [`Finding`]: what
//! it means, and the commands that fix it; and the advice that is no failure (no sudo, mdbook,
//! an old kernel).
//!
//! Called by `assess.rs`, which decides which causes apply.

use super::machine::{kernel_version, Machine, Sudo};
use super::needs::{Probe, APPARMOR_PROFILE, MDBOOK_INSTALL, TOOLS};
use super::report::Finding;

/// The reasons doctor knows for a probe to fail; each becomes one finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Cause {
    NoProc,
    Wsl1,
    UserNamespacesOff,
    UnprivilegedOff,
    AppArmor,
    Container,
    /// The kernel cannot make a bridge or a veth pair: its modules are not there.
    NoBridgeModule,
    /// The kernel cannot install a seccomp filter: it was built without CONFIG_SECCOMP_FILTER.
    NoSeccompFilter,
    /// Tools the chapters use are not installed (step07 cannot run without `ip`).
    ToolsMissing,
    /// A failure doctor cannot explain: the probe and what unshare said.
    Unexplained(Probe, String),
}

/// `sudo ` before a command, unless doctor runs as root on the host already.
fn sudo_prefix(m: &Machine) -> &'static str {
    if m.root_on_the_host {
        ""
    } else {
        "sudo "
    }
}

/// The finding for one cause.
pub(super) fn finding(m: &Machine, cause: &Cause) -> Finding {
    let sudo = sudo_prefix(m);
    match cause {
        Cause::NoProc => Finding {
            title: "/proc is not mounted here".into(),
            lines: vec![
                "step06, step07 and setns-enter write /proc/PID/uid_map or open /proc/PID/ns; unshare \
                 needs it too"
                    .into(),
            ],
            fixes: vec![format!("{sudo}mount -t proc proc /proc")],
        },
        Cause::Wsl1 => Finding {
            title:
                "this is WSL 1, which has no namespaces: it translates Linux calls, it runs no Linux kernel"
                    .into(),
            lines: vec!["WSL 2 runs a real Linux kernel, where every step works".into()],
            fixes: vec![
                "wsl --list --verbose                  # in Windows PowerShell: the distribution's name"
                    .into(),
                "wsl --set-version <distribution> 2    # in Windows PowerShell".into(),
            ],
        },
        Cause::UserNamespacesOff => Finding {
            title: "user namespaces are disabled: user.max_user_namespaces is 0".into(),
            lines: vec![
                "step06, step07, setns-enter and the sandbox make user namespaces; the limit stops root too"
                    .into(),
            ],
            fixes: sysctl_fixes(m, "user.max_user_namespaces", "15000"),
        },
        Cause::UnprivilegedOff => Finding {
            title: "unprivileged user namespaces are disabled: kernel.unprivileged_userns_clone is 0".into(),
            lines: vec!["root may still make them: step06 and step07 run with sudo".into()],
            fixes: sysctl_fixes(m, "kernel.unprivileged_userns_clone", "1"),
        },
        Cause::AppArmor => apparmor(m),
        Cause::Container => Finding {
            title: container_title(m),
            lines: vec![
                "a container's runtime forbids namespaces by default: Docker's seccomp profile refuses \
                 unshare() and clone() with namespace flags, and it drops CAP_SYS_ADMIN"
                    .into(),
                "run the workspace on the host, or in a virtual machine; or start the container with:".into(),
            ],
            fixes: vec![
                "docker run --security-opt seccomp=unconfined --cap-add SYS_ADMIN --cap-add NET_ADMIN ..."
                    .into(),
                "docker run --privileged ...    # everything: only on a machine you can throw away".into(),
            ],
        },
        Cause::NoBridgeModule => bridge_module(m),
        Cause::NoSeccompFilter => Finding {
            title: "the kernel has no seccomp filters: it was built without CONFIG_SECCOMP_FILTER".into(),
            lines: vec![
                "step13 installs one before exec, as Docker does; every distribution's kernel has them: \
                 boot one, or run step13 without its filter, as docker run --security-opt seccomp=unconfined"
                    .into(),
            ],
            fixes: vec!["target/debug/step13-seccomp --seccomp unconfined COMMAND...".into()],
        },
        Cause::ToolsMissing => tools_finding(m),
        Cause::Unexplained(probe, err) => Finding {
            title: format!("{} failed: {err}", probe.tried()),
            lines: vec!["doctor does not know why; try the command yourself, and look at dmesg".into()],
            fixes: vec![],
        },
    }
}

/// Set a sysctl now, and in /etc/sysctl.d so that it stays after a reboot.
fn sysctl_fixes(m: &Machine, name: &str, value: &str) -> Vec<String> {
    let sudo = sudo_prefix(m);
    vec![
        format!("{sudo}sysctl -w {name}={value}"),
        format!("echo {name}={value} | {sudo}tee -a /etc/sysctl.d/60-namespaces-tutorial.conf   # and after a reboot"),
    ]
}

fn container_title(m: &Machine) -> String {
    let mut signs = Vec::new();
    if m.dockerenv {
        signs.push("/.dockerenv exists".to_string());
    }
    if m.containerenv {
        signs.push("/run/.containerenv exists".to_string());
    }
    if m.seccomp == Some(2) {
        signs.push("a seccomp filter is on (Seccomp: 2)".to_string());
    }
    format!("this looks like a container ({}), and it forbids namespaces", signs.join(", "))
}

/// Ubuntu 23.10 and later: AppArmor lets an unprivileged process make a user namespace, but
/// takes away its capabilities inside, unless an AppArmor profile allows `userns`.
fn apparmor(m: &Machine) -> Finding {
    let target = m.target_dir.display().to_string();
    let attach = format!("{target}/{{debug,release}}/{{step[0-9][0-9]-*,setns-enter}}");
    let attach = if attach.contains(char::is_whitespace) { format!("\"{attach}\"") } else { attach };
    // The upstream profiles for programs that need user namespaces have this shape: no
    // confinement (flags=(unconfined)), and the one permission the restriction takes away.
    let profile = format!(
        "# Let this workspace's steps make user namespaces (written by cargo xtask doctor).\n\
         abi <abi/4.0>,\ninclude <tunables/global>\n\n\
         profile namespaces-tutorial {attach} flags=(unconfined) {{\n  userns,\n}}"
    );
    let sudo = sudo_prefix(m);
    Finding {
        title: "AppArmor denies capabilities in a user namespace made by an ordinary user \
                (kernel.apparmor_restrict_unprivileged_userns is 1, as from Ubuntu 23.10)"
            .into(),
        lines: vec![
            "fix it for the whole machine with the sysctl; or for this workspace's steps only, with a \
             profile that allows them user namespaces (paste the lines under it as they are)"
                .into(),
            "the profile does not cover unshare, so the sandbox still needs the sysctl".into(),
        ],
        fixes: [
            sysctl_fixes(m, "kernel.apparmor_restrict_unprivileged_userns", "0"),
            vec![format!(
                "{sudo}tee {APPARMOR_PROFILE} > /dev/null <<'EOF'\n{profile}\nEOF\n\
                 {sudo}apparmor_parser -r {APPARMOR_PROFILE}"
            )],
        ]
        .concat(),
    }
}

const BRIDGE_TITLE: &str = "the kernel cannot make a bridge or a veth pair: no bridge or veth module";

/// The kernel has no bridge or veth driver: it is a module, not installed for the running
/// kernel (upgraded, not rebooted; a minimal image), or not loaded where nothing loads it.
fn bridge_module(m: &Machine) -> Finding {
    let sudo = sudo_prefix(m);
    let release = m.kernel.as_deref().unwrap_or("$(uname -r)");
    let mut lines =
        vec!["step07's bridge and veths (steps 07 on, as root and in the sandbox) fail with EOPNOTSUPP, \
         \"Operation not supported\"; the kernel makes them with its bridge and veth modules"
            .to_string()];
    let mut fixes = Vec::new();
    if !m.kernel_loads_modules {
        lines.push(
            "this kernel loads no modules (there is no /proc/modules): it was built without them; \
                    boot a kernel with CONFIG_BRIDGE and CONFIG_VETH"
                .into(),
        );
        return Finding { title: BRIDGE_TITLE.into(), lines, fixes };
    }
    if m.modules_installed == Some(false) {
        lines.push(format!(
            "/lib/modules/{release} is missing: the running kernel's modules are not installed; most \
             often the kernel was upgraded and the machine not yet rebooted into it"
        ));
        fixes.push(format!("{sudo}reboot    # into the kernel that is installed, with its modules"));
    }
    lines.push("or install the modules for the running kernel, and load them:".into());
    fixes.extend([
        format!("{sudo}apt install linux-modules-extra-$(uname -r)    # Ubuntu"),
        format!("{sudo}dnf install kernel-modules-$(uname -r)    # Fedora"),
        format!("{sudo}modprobe bridge veth"),
    ]);
    Finding { title: BRIDGE_TITLE.into(), lines, fixes }
}

/// The tools of [`TOOLS`] that are missing, and the one command that installs them all.
fn tools_finding(m: &Machine) -> Finding {
    let missing: Vec<&(&str, &str, &str)> =
        TOOLS.iter().filter(|(t, p, _)| !p.is_empty() && m.missing_tools.iter().any(|x| x == t)).collect();
    let mut packages: Vec<&str> = missing.iter().map(|(_, p, _)| *p).collect();
    packages.dedup();
    Finding {
        title: format!(
            "not installed: {}",
            missing.iter().map(|(t, p, _)| format!("{t} ({p})")).collect::<Vec<_>>().join(", ")
        ),
        lines: missing.iter().map(|(t, _, used)| format!("{t}: {used}")).collect(),
        fixes: vec![format!("{}apt install {}", sudo_prefix(m), packages.join(" "))],
    }
}

/// Findings that are advice rather than a failure: no sudo, mdbook, an old kernel.
pub(super) fn advice(m: &Machine) -> Vec<Finding> {
    let mut advice = Vec::new();
    let sandbox_works = matches!(m.as_you.get(&Probe::Sandbox), Some(Ok(())));
    if !m.you_are_root && m.sudo == Sudo::NeedsPassword {
        // sudo asks even users who may not use it, so we cannot tell which you are.
        advice.push(Finding {
            title: "sudo asks for a password, which doctor does not type: the 'with sudo' column is untried"
                .into(),
            lines: vec!["if you may use sudo, run doctor with it; if not, use the sandbox".into()],
            fixes: vec![format!("sudo {}", m.doctor_command), "cargo xtask sandbox".into()],
        });
    }
    if !m.you_are_root && matches!(m.sudo, Sudo::Missing | Sudo::Refused(_)) {
        let why = match &m.sudo {
            Sudo::Refused(said) => format!("sudo refused: {said}"),
            _ => "there is no sudo here".to_string(),
        };
        advice.push(Finding {
            title: format!("{why}: use the sandbox for steps 02-05 and step07's bridge"),
            lines: vec![if sandbox_works {
                "in it you are root over namespaces you own, and every step runs without sudo".into()
            } else {
                "in it you are root over namespaces you own; it needs user namespaces, see above".into()
            }],
            fixes: vec!["cargo xtask sandbox".into()],
        });
    }
    let bridge_tried = m.as_you.contains_key(&Probe::Bridge) || m.as_root.contains_key(&Probe::Bridge);
    if !bridge_tried && m.kernel_loads_modules && m.modules_installed == Some(false) {
        let release = m.kernel.as_deref().unwrap_or("$(uname -r)");
        advice.push(Finding {
            title: format!(
                "/lib/modules/{release} is missing: the running kernel's modules are not installed"
            ),
            lines: vec![
                "doctor could not try a bridge (no ip): step07's may fail with \"Operation not supported\""
                    .into(),
                "most often the kernel was upgraded and the machine not yet rebooted into it".into(),
            ],
            fixes: vec![format!("{}reboot", sudo_prefix(m))],
        });
    }
    if m.missing_tools.iter().any(|t| t == "mdbook") {
        advice.push(Finding {
            title: "mdbook is not installed: you need it only to build the book".into(),
            lines: vec![],
            fixes: vec![MDBOOK_INSTALL.into()],
        });
    }
    if let Some((major, minor)) = m.kernel.as_deref().and_then(kernel_version) {
        if (major, minor) < (5, 6) {
            advice.push(Finding {
                title: format!("kernel {major}.{minor} is older than 5.6: it has no openat2(2)"),
                lines: vec![
                    "--rootfs (step05 on) refuses to run, as it cannot check the rootfs for symlinks".into(),
                ],
                fixes: vec!["upgrade the kernel to 5.6 or later".into()],
            });
        }
    }
    advice
}
