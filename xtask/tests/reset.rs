//! `cargo xtask reset`, always inside throwaway network and mount namespaces (`unshare --net
//! --mount`), so that the bridge it removes is the one the test made, never the machine's own,
//! and a mount the test makes is never the host's.
//!
//! As root that is `unshare --net --mount`; as anyone else, `unshare --user --map-root-user
//! --net --mount`, in which we are root over that network. Run "as nobody" is then
//! `setpriv` to uid 65534, or a nested `unshare --user` without a map, whose uid is 65534 too.

use std::path::Path;
use testkit::{is_root, reachable_by_nobody, run, Out, NOBODY};

const XTASK: &str = env!("CARGO_BIN_EXE_xtask");

/// Run `script` in throwaway network and mount namespaces; `$XTASK` is the xtask binary, `$NOBODY` the
/// command that runs what follows as an ordinary user.
fn in_throwaway_netns(script: &str) -> Option<Out> {
    let (wrap, nobody): (&[&str], String) = if is_root() {
        (&["unshare", "--net", "--mount"], NOBODY.join(" "))
    } else {
        (&["unshare", "--user", "--map-root-user", "--net", "--mount"], "unshare --user".to_string())
    };
    if !is_root() && run(&["unshare", "--user", "--map-root-user", "--net", "true"]).status != 0 {
        testkit::root_or_skip("a throwaway network namespace needs root, or user namespaces");
        return None;
    }
    let xtask = reachable_by_nobody(XTASK);
    let script = format!("XTASK='{}'\nNOBODY='{nobody}'\n{script}", xtask.display());
    let mut argv: Vec<&str> = wrap.to_vec();
    argv.extend(["sh", "-c", &script]);
    Some(run(&argv))
}

#[test]
fn removes_the_bridge_step07_left() {
    let Some(out) = in_throwaway_netns(
        "ip link add lxcbr0 type bridge && ip addr add 192.168.10.1/24 dev lxcbr0 || exit 9
         \"$XTASK\" reset; echo status $?
         ip -o link show lxcbr0 >/dev/null 2>&1 && echo kept || echo gone",
    ) else {
        return;
    };
    out.assert_status(0);
    assert_eq!(out.stdout, "status 0\ngone\n", "{out:#?}");
    assert!(out.stderr.contains("removed the bridge lxcbr0, left by step07: ip link del lxcbr0"), "{out:#?}");
}

/// LXC's default bridge is lxcbr0 too, with 10.0.3.1/24: not step07's, so it stays.
#[test]
fn keeps_lxcs_own_lxcbr0() {
    let Some(out) = in_throwaway_netns(
        "ip link add lxcbr0 type bridge && ip addr add 10.0.3.1/24 dev lxcbr0 || exit 9
         \"$XTASK\" reset; echo status $?
         ip -o link show lxcbr0 >/dev/null 2>&1 && echo kept || echo gone",
    ) else {
        return;
    };
    out.assert_status(0);
    assert_eq!(out.stdout, "status 0\nkept\n", "{out:#?}");
    assert!(out.stderr.contains("lxcbr0 does not carry step07's address 192.168.10.1/24"), "{out:#?}");
}

#[test]
fn keeps_a_bridge_with_ports_and_reports_the_veth() {
    let Some(out) = in_throwaway_netns(
        "ip link add lxcbr0 type bridge && ip addr add 192.168.10.1/24 dev lxcbr0 && ip link add veth9-7 type veth peer name p1 &&
         ip link set veth9-7 master lxcbr0 || exit 9
         \"$XTASK\" reset; echo status $?
         ip -o link show lxcbr0 >/dev/null 2>&1 && echo kept || echo gone",
    ) else {
        return;
    };
    out.assert_status(0);
    assert_eq!(out.stdout, "status 0\nkept\n", "{out:#?}");
    assert!(out.stderr.contains("the bridge lxcbr0 still has ports (veth9-7)"), "{out:#?}");
    assert!(out.stderr.contains("veth9-7: the host end of a running container's veth"), "{out:#?}");
}

#[test]
fn as_nobody_it_says_it_needs_root() {
    let Some(out) = in_throwaway_netns(
        "ip link add lxcbr0 type bridge && ip addr add 192.168.10.1/24 dev lxcbr0 || exit 9
         $NOBODY \"$XTASK\" reset; echo status $?
         ip -o link show lxcbr0 >/dev/null 2>&1 && echo kept || echo gone",
    ) else {
        return;
    };
    out.assert_status(0);
    assert_eq!(out.stdout, "status 1\nkept\n", "{out:#?}");
    assert!(
        out.stderr.contains("removing it needs root: sudo ip link del lxcbr0"),
        "should say it needs root, and the command\n{out:#?}"
    );
}

/// A mount under the workspace is reported with the command that removes it, and kept. It is
/// made over xtask/tests (any directory of the workspace would do; the tests may not be able
/// to create one), in the throwaway mount namespace, which the host never sees.
#[test]
fn reports_a_mount_under_the_workspace() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").canonicalize().unwrap();
    let script = format!(
        "mount -t tmpfs reset-test '{d}' || exit 9
         \"$XTASK\" reset; echo status $?",
        d = dir.display()
    );
    let Some(out) = in_throwaway_netns(&script) else { return };
    out.assert_status(0);
    assert_eq!(out.stdout, "status 0\n", "{out:#?}");
    assert!(out.stderr.contains(&format!("{} is mounted", dir.display())), "{out:#?}");
    assert!(out.stderr.contains(&format!("sudo umount --recursive '{}'", dir.display())), "{out:#?}");
}

#[test]
fn a_fresh_network_namespace_has_nothing_to_remove() {
    let Some(out) = in_throwaway_netns("\"$XTASK\" reset 2>&1 | grep -c -e lxcbr0 -e 'is mounted'; exit 0")
    else {
        return;
    };
    assert_eq!(out.stdout, "0\n", "a fresh network namespace has no bridge\n{out:#?}");
}

/// Steps 11 to 13 carry overlay.rs: the layer a killed one leaves (`/tmp/container-layer.*`) is
/// reported for all three, and a step still running is found by its name, step13's too, and
/// never killed. The "step" is `sleep` under step13's name, as nobody; the layer an empty
/// directory of nobody's, removed after.
#[test]
fn reports_a_layer_and_a_running_step13_and_kills_nothing() {
    let Some(out) = in_throwaway_netns(
        "d=$(mktemp -d) && cp \"$(command -v sleep)\" \"$d/step13-seccomp\" && chmod 755 \"$d\" || exit 9
         l=$($NOBODY mktemp -d /tmp/container-layer.XXXXXX) || exit 9
         $NOBODY \"$d/step13-seccomp\" 30 & pid=$!
         while [ \"$(cat /proc/$pid/comm 2>/dev/null)\" != step13-seccomp ]; do sleep 0.05; done
         $NOBODY \"$XTASK\" reset 2>&1; echo status $?
         [ \"$(cat /proc/$pid/comm)\" = step13-seccomp ] && echo still running
         kill $pid; wait $pid; rm -rf \"$d\" \"$l\"
         echo \"pid $pid layer $l\"",
    ) else {
        return;
    };
    out.assert_status(0);
    let last = out.stdout.lines().last().unwrap_or_default();
    let (pid, layer) = last.strip_prefix("pid ").and_then(|r| r.split_once(" layer ")).expect(&out.stdout);
    assert!(out.stdout.contains(&format!("step13-seccomp is running as PID {pid}: left alone")), "{out:#?}");
    assert!(
        out.stdout.contains(&format!("{layer}: a container's layer, left by a killed step11, 12 or 13")),
        "{out:#?}"
    );
    assert!(out.stdout.contains("still running"), "reset never kills\n{out:#?}");
}
