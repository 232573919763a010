//! step07's lesson, the network namespace: a veth pair and a bridge put the container on a
//! network; its options; and the bridge and options a step must refuse or repair.
//!
//! Every check runs the step inside a throwaway network namespace (`unshare --net`, in the
//! Step's `wrap`, or here), so the bridge and veths it makes never touch the machine's network.
//! Called by the `tests/lesson.rs` of steps 07 on.

use crate::privilege::{installed_or_skip, real_root_or_skip, root_or_skip, RealRoot};
use crate::step::{one_error_line, run_with_env, Out, Step};
use crate::tmp::fresh_dir;
use crate::wording as says;

/// Run `script` with `sh -c` inside a throwaway network namespace, with `env` set; `"$@"` is the
/// step (without its own wrap: the namespace is this one).
fn in_throwaway_netns(step: Step, script: &str, env: &[(&str, &str)]) -> Out {
    let mut argv: Vec<String> = ["unshare", "--net", "sh", "-c", script, "sh"].map(String::from).to_vec();
    argv.extend(Step { wrap: &[], ..step }.argv(&[]));
    run_with_env(&argv, env)
}

/// Inside: exactly `lo` and `eth0` are up; eth0 has an address in the bridge's subnet, and the
/// default route goes through the bridge, which the container reaches.
pub fn network_inside(step: Step) {
    if !step.may_run() || !installed_or_skip(&["ip", "ping"]) {
        return;
    }
    let script = include_str!("../scripts/network-inside.sh");
    let out = step.run(&["-q", "sh", "-c", script]);
    out.assert_status(0);
    let lines: Vec<&str> = out.stdout.lines().map(str::trim).collect();
    assert_eq!(lines.len(), 4, "{out:#?}");
    assert_eq!(lines[0], "lo eth0", "exactly lo and eth0 should be up\n{out:#?}");
    assert!(lines[1].starts_with("192.168.10.") && lines[1].ends_with("/24"), "{out:#?}");
    assert_ne!(lines[1], "192.168.10.1/24", "the bridge's address is not the container's");
    assert!(lines[2].starts_with("default via 192.168.10.1 dev eth0"), "{out:#?}");
    assert_eq!(lines[3], "reached-bridge", "{out:#?}");
}

/// The narration shows the network before setup (lo, down) and each change as an `ip` command.
pub fn network_narrated(step: Step) {
    if !step.may_run() {
        return;
    }
    let out = step.run(&["true"]);
    out.assert_status(0);
    for expected in says::NETWORK {
        assert!(out.stderr.contains(expected), "narration should include '{expected}'\n{out:#?}");
    }
}

/// `--ip`, `--bridge` and `--subnet` choose the network; bad values are one line and 125.
pub fn network_options(step: Step) {
    if !step.may_run() {
        return;
    }
    let out = step.run(&[
        "-q",
        "--bridge",
        "br-test",
        "--subnet",
        "10.99.0.0/16",
        "--ip",
        "10.99.3.7",
        "sh",
        "-c",
        "ip -4 -o addr show dev eth0 | tr -s ' ' | cut -d' ' -f4; ip route show default | cut -d' ' -f1-3",
    ]);
    out.assert_status(0);
    assert_eq!(out.stdout, "10.99.3.7/16\ndefault via 10.99.0.1\n", "{out:#?}");
    for (args, error) in says::BAD_NETWORK_OPTIONS {
        let out = step.run(&[args[0], args[1], "true"]);
        out.assert_status(125);
        let line = one_error_line(&out);
        assert!(line.contains(error), "{line}");
        assert!(!out.stderr.contains(says::STARTED_CONTAINER), "{out:#?}");
    }
}

/// Two containers at once get different addresses and reach each other; once they have
/// exited, no veth is left (the kernel removes it with the container's network namespace).
pub fn two_containers_reach_each_other(step: Step) {
    if !root_or_skip("a throwaway network namespace needs root") || !installed_or_skip(&["ip", "ping"]) {
        return;
    }
    // The two containers meet in a directory of ours, which their root may write: run by root,
    // it is not the host's root (see root_started), so the directory is given to whom it is.
    let dir = crate::fresh_dir_for_nobody("two-containers");
    std::fs::write(dir.join("a.sh"), include_str!("../scripts/two-containers-a.sh")).unwrap();
    std::fs::write(dir.join("b.sh"), include_str!("../scripts/two-containers-b.sh")).unwrap();
    let owner = Some(crate::root_started::container_root_outside().into());
    nix::unistd::chown(&dir, owner, None).unwrap();
    let script = include_str!("../scripts/two-containers.sh");
    let out = in_throwaway_netns(step, script, &[("DIR", dir.to_str().unwrap())]);
    let _ = std::fs::remove_dir_all(&dir);
    out.assert_status(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{out:#?}");
    let a = lines[0].strip_prefix("a ").unwrap();
    let b = lines[1].strip_prefix("b ").unwrap();
    assert!(a.starts_with("192.168.10.") && b.starts_with("192.168.10."), "{out:#?}");
    assert_ne!(a, b, "two containers must not share an address");
    assert_eq!(lines[2], "b-reached-a", "{out:#?}");
    assert_eq!(lines[3], "0", "no veth should be left once the containers have exited\n{out:#?}");
    assert_eq!(lines[4], "bridge-kept", "{out:#?}");
}

/// Five containers at once all reach the bridge, each with an address of its own.
pub fn five_at_once(step: Step) {
    if !root_or_skip("a throwaway network namespace needs root") || !installed_or_skip(&["ip", "ping"]) {
        return;
    }
    let script = include_str!("../scripts/five-at-once.sh");
    let out = in_throwaway_netns(step, script, &[]);
    out.assert_status(0);
    let mut addresses: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(addresses.len(), 5, "all five should reach the bridge\n{out:#?}");
    addresses.sort();
    addresses.dedup();
    assert_eq!(addresses.len(), 5, "each should have its own address\n{out:#?}");
}

/// Run by an ordinary user, the step still runs, with `lo` only (up), says why in one line, and
/// exits with the command's status.
pub fn lo_only_without_root(step: Step) {
    if !root_or_skip("a throwaway network namespace needs root")
        || !real_root_or_skip(RealRoot::Nobody)
        || !installed_or_skip(&["ip", "setpriv"])
    {
        return;
    }
    let nobody = Step { as_nobody: true, ..step };
    let out = nobody.run(&[
        "sh",
        "-c",
        "ip -o link show | cut -d: -f2 | tr -d ' '; ip -o link show up | wc -l; exit 3",
    ]);
    out.assert_status(3);
    assert_eq!(out.stdout, "lo\n1\n", "only lo, and up\n{out:#?}");
    let why: Vec<&str> = out.stderr.lines().filter(|l| l.contains(says::NO_NETWORK_LINK)).collect();
    assert_eq!(why.len(), 1, "{out:#?}");
    let [capability, how] = says::NO_NETWORK_LINK_WHY;
    assert!(why[0].contains(capability) && why[0].contains(how), "{}", why[0]);
}

// --- The bridge, and bad options (over rtnetlink) ------------------------------------------------

/// Like [`in_throwaway_netns`], for scripts that name the step as `$STEP` (run with `eval`).
fn in_netns_naming_step(step: Step, script: &str) -> Out {
    let argv = Step { wrap: &[], ..step }.argv(&[]);
    let step_cmd = argv.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(" ");
    in_throwaway_netns(step, &format!("STEP=\"{step_cmd}\"\n{script}"), &[])
}

/// With no `ip` anywhere in PATH, the step still connects the container: it asks the kernel
/// over rtnetlink itself. (The command gets PATH back to run `ip` inside.)
pub fn works_without_ip(step: Step) {
    if !root_or_skip("a throwaway network namespace needs root") {
        return;
    }
    let empty = fresh_dir("empty-path");
    let script = format!(
        "(PATH={}; eval \"$STEP -q /bin/sh -c 'PATH=/usr/sbin:/usr/bin:/sbin:/bin; \
         ip -4 -o addr show dev eth0 | tr -s \\\" \\\" | cut -d\\\" \\\" -f4'\"); echo status $?",
        empty.display()
    );
    let out = in_netns_naming_step(step, &script);
    out.assert_status(0);
    assert_eq!(out.stdout, "192.168.10.2/24\nstatus 0\n", "{out:#?}");
}

/// A --bridge value that is not an interface name we use is one line and 125, and nothing is
/// made: not ASCII (it used to panic at a character boundary), not UTF-8, `%` (`a%d` made a0),
/// `#`, a tab, a leading `-`, `.`, `..`, `/`, `:`, empty, too long.
pub fn bridge_name_errors(step: Step) {
    if !root_or_skip("a throwaway network namespace needs root") {
        return;
    }
    // Each name as printf's %b writes it: \0377 is the byte 0xff, \t a tab.
    for name in
        ["ééééééé", "\\0377", "a%d", "#", "a\\tb", "-x", ".", "..", "a/b", "a:b", "", "a-name-far-too-long"]
    {
        let script = format!(
            "name=$(printf '%b' '{name}'); eval \"$STEP --bridge \\\"\\$name\\\" true\"; echo \"status $?\"
             ip -o link | grep -vc ': lo:' || true"
        );
        let out = in_netns_naming_step(step, &script);
        assert_eq!(out.stdout, "status 125\n0\n", "--bridge {name:?}: 125 and nothing made\n{out:#?}");
        let line = one_error_line(&out);
        assert!(line.contains("--bridge") && line.contains("not an interface name"), "{line}");
        assert!(!out.stderr.contains("started container"), "{out:#?}");
    }
}

/// A bridge left half-made (as by a run killed between `ip link add` and `ip addr add`) is
/// completed: the missing address added, the bridge brought up, each narrated; the container
/// then reaches its gateway.
pub fn half_made_bridge_is_completed(step: Step) {
    if !root_or_skip("a throwaway network namespace needs root") {
        return;
    }
    for (made, narrated, not_narrated) in [
        (
            "ip link add lxcbr0 type bridge",
            &["parent: ip addr add 192.168.10.1/24 dev lxcbr0", "parent: ip link set lxcbr0 up"][..],
            &["parent: ip link add lxcbr0 type bridge"][..],
        ),
        (
            "ip link add lxcbr0 type bridge; ip addr add 192.168.10.1/24 dev lxcbr0",
            &["parent: ip link set lxcbr0 up"][..],
            &["parent: ip link add lxcbr0 type bridge", "parent: ip addr add 192.168.10.1/24"][..],
        ),
    ] {
        let script = format!(
            "{made}
             eval \"$STEP sh -c 'ping -c1 -W2 192.168.10.1 >/dev/null && echo reached'\"; echo \"status $?\"
             ip -4 -o addr show dev lxcbr0 | tr -s ' ' | cut -d' ' -f4
             ip -o link show lxcbr0 | grep -q '[<,]UP[,>]' && echo bridge-up"
        );
        let out = in_netns_naming_step(step, &script);
        assert_eq!(out.stdout, "reached\nstatus 0\n192.168.10.1/24\nbridge-up\n", "after `{made}`\n{out:#?}");
        for line in narrated {
            assert!(out.stderr.contains(line), "should narrate '{line}'\n{out:#?}");
        }
        for line in not_narrated {
            assert!(!out.stderr.contains(line), "should not narrate '{line}'\n{out:#?}");
        }
    }
}

/// A bridge that holds another address, or an interface that is not a bridge, is refused with
/// one line that says how to fix it, 125, and nothing made or changed.
pub fn foreign_bridge_refused(step: Step) {
    if !root_or_skip("a throwaway network namespace needs root") {
        return;
    }
    for (args, says) in [
        (
            "--subnet 10.9.0.0/24",
            &["holds 192.168.10.1/24", "--subnet 192.168.10.0/24", "sudo ip link del lxcbr0"][..],
        ),
        ("--bridge lo", &["--bridge lo", "not a bridge"][..]),
    ] {
        let script = format!(
            "ip link add lxcbr0 type bridge; ip addr add 192.168.10.1/24 dev lxcbr0; ip link set lxcbr0 up
             eval \"$STEP {args} true\"; echo \"status $?\"
             ip -o link | grep -vc ': l' || true
             ip -4 -o addr | tr -s ' ' | cut -d' ' -f2,4 | grep -v '^lo '"
        );
        let out = in_netns_naming_step(step, &script);
        assert_eq!(out.stdout, "status 125\n0\nlxcbr0 192.168.10.1/24\n", "{args}\n{out:#?}");
        let line = one_error_line(&out);
        for part in says {
            assert!(line.contains(part), "{args}: the error should say '{part}': {line}");
        }
        assert!(!out.stderr.contains("started container"), "{out:#?}");
    }
}

/// Two bridges whose names share their first 13 bytes (the most a veth name could keep of
/// them) still get veths of their own: a container on each, with the same host number (.2),
/// runs at once, and no veth is left once both have exited.
pub fn bridges_sharing_a_prefix(step: Step) {
    if !root_or_skip("a throwaway network namespace needs root") {
        return;
    }
    let dir = fresh_dir("prefix");
    let d = dir.display();
    // Each loop is bounded: at most 200 waits of 50 ms.
    let a = format!(
        "touch {d}/a; i=0; while [ ! -e {d}/done ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done"
    );
    std::fs::write(dir.join("a.sh"), a).unwrap();
    let script = format!(
        "eval \"$STEP -q --bridge bridge-prefix-a --subnet 10.1.1.0/24 --ip 10.1.1.2 sh {d}/a.sh\" &
         i=0; while [ ! -e {d}/a ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
         eval \"$STEP -q --bridge bridge-prefix-b --subnet 10.2.2.0/24 --ip 10.2.2.2 \
                sh -c 'ping -c1 -W2 10.2.2.1 >/dev/null && echo b-reached'\"; echo \"status $?\"
         touch {d}/done; wait
         i=0; while ip -o link | grep -q veth && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
         ip -o link | grep -c veth || true"
    );
    let out = in_netns_naming_step(step, &script);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.stdout, "b-reached\nstatus 0\n0\n", "{out:#?}");
}

/// A --subnet of addresses no container can use is refused before anything is made: "this
/// network" (0/8), loopback (127/8), multicast (224/4), reserved and broadcast (240/4).
pub fn unusable_subnets_refused(step: Step) {
    if !root_or_skip("a throwaway network namespace needs root") {
        return;
    }
    for subnet in
        ["0.0.0.0/8", "127.0.0.0/8", "224.0.0.0/24", "239.255.0.0/16", "240.0.0.0/24", "255.255.255.0/24"]
    {
        let script = format!(
            "eval \"$STEP --subnet {subnet} true\"; echo \"status $?\"; ip -o link | grep -vc ': lo:' || true"
        );
        let out = in_netns_naming_step(step, &script);
        assert_eq!(out.stdout, "status 125\n0\n", "--subnet {subnet}\n{out:#?}");
        let line = one_error_line(&out);
        assert!(line.contains(&format!("--subnet {subnet}: not a subnet of ordinary addresses")), "{line}");
        assert!(!out.stderr.contains("started container"), "{out:#?}");
    }
}

/// `--subnet 10.0.0.0/8` needs no list of its 16 million addresses (it took 67 MB): the step
/// runs within 32 MB of address space, and `--ip` far into the subnet works too.
pub fn big_subnet_in_little_memory(step: Step) {
    if !root_or_skip("a throwaway network namespace needs root") {
        return;
    }
    let script = "ulimit -v 32000
                  for ip in '' '--ip 10.200.3.7'; do
                      eval \"$STEP -q --subnet 10.0.0.0/8 $ip \
                            sh -c 'ip -4 -o addr show dev eth0 | tr -s \\\" \\\" | cut -d\\\" \\\" -f4'\"
                      echo \"status $?\"
                  done";
    let out = in_netns_naming_step(step, script);
    assert_eq!(out.stdout, "10.0.0.2/8\nstatus 0\n10.200.3.7/8\nstatus 0\n", "{out:#?}");
}
