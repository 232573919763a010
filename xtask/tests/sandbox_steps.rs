//! `cargo xtask sandbox`, step by step: an ordinary user runs every step inside it, and each
//! shows, from inside, what its root tests check. sandbox.rs tests the sandbox itself.
//!
//! When these tests run as root, the sandbox runs as nobody (setpriv), so that what is checked
//! is what a learner without sudo gets; as anyone else, it runs as them.

mod sandbox_support;

use sandbox_support::{in_sandbox, sandbox_or_skip, Rootfs};

fn host_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap()
}

// --- Every step inside, checked as its root tests check it -------------------------------------

#[test]
fn step01_runs() {
    if !sandbox_or_skip() {
        return;
    }
    let out = in_sandbox("$S1 -q sh -c 'echo hello from $$'");
    out.assert_status(0);
    assert!(out.stdout.starts_with("hello from "), "{out:#?}");
}

#[test]
fn step02_hostname_is_container_and_the_sandboxs_is_unchanged() {
    if !sandbox_or_skip() {
        return;
    }
    let before = host_hostname();
    let out = in_sandbox("hostname; $S2 -q hostname; hostname");
    out.assert_status(0);
    assert_eq!(out.stdout, "sandbox\ncontainer\nsandbox\n", "{out:#?}");
    assert_eq!(host_hostname(), before, "the host's hostname must not change");
}

#[test]
fn step03_ipcs_is_empty() {
    if !sandbox_or_skip() {
        return;
    }
    let out = in_sandbox(
        "ipcs -q | grep -c '^0x'; ipcmk -Q >/dev/null; ipcs -q | grep -c '^0x'; $S3 -q ipcs -q | grep -c '^0x'; exit 0",
    );
    out.assert_status(0);
    // The sandbox's own IPC namespace starts empty; the queue made in it does not show in step03.
    assert_eq!(out.stdout, "0\n1\n0\n", "{out:#?}");
}

#[test]
fn step04_the_command_is_pid_1() {
    if !sandbox_or_skip() {
        return;
    }
    let out = in_sandbox("$S4 -q sh -c 'echo $$'");
    out.assert_status(0);
    assert_eq!(out.stdout, "1\n", "{out:#?}");
}
#[test]
fn step05_rootfs_with_its_own_proc() {
    if !sandbox_or_skip() {
        return;
    }
    let rootfs = Rootfs::build();
    let dir = rootfs.0.join("rootfs");
    let script = format!(
        "$S5 -q --rootfs '{d}' ps -e -o pid=,comm=; echo --; $S5 -q --rootfs '{d}' ls /",
        d = dir.display()
    );
    let out = in_sandbox(&script);
    out.assert_status(0);
    let (ps, ls) = out.stdout.split_once("--\n").unwrap();
    let rows: Vec<&str> = ps.lines().map(str::trim).collect();
    assert_eq!(rows, ["1 ps"], "ps should be PID 1 and alone\n{out:#?}");
    let mut expected: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    expected.sort();
    let mut seen: Vec<&str> = ls.lines().collect();
    seen.sort();
    assert_eq!(seen, expected, "/ should be the rootfs\n{out:#?}");
}

#[test]
fn step06_uid_0_inside() {
    if !sandbox_or_skip() {
        return;
    }
    let out = in_sandbox("$S6 -q sh -c 'id -u; id -g; tr -s \" \" < /proc/self/uid_map'");
    out.assert_status(0);
    // uid 0 in step06's user namespace is uid 0 of the sandbox's, which is us to the host.
    assert_eq!(out.stdout, "0\n0\n 0 0 1\n", "{out:#?}");
}

#[test]
fn step07_two_containers_on_the_bridge_ping_each_other() {
    if !sandbox_or_skip() {
        return;
    }
    let out = in_sandbox(
        "$S7 -q --ip 192.168.10.2 sleep 30 &
         $S7 -q --ip 192.168.10.3 sh -c '
             ip -4 -o addr show dev eth0 | tr -s \" \" | cut -d\" \" -f4
             i=0; until ping -c1 -W1 192.168.10.2 >/dev/null; do
                 i=$((i+1)); [ $i -lt 50 ] || exit 1; sleep 0.1
             done
             echo reached 192.168.10.2'
         status=$?
         kill -KILL $!; wait
         ip -o link show type bridge | cut -d: -f2 | tr -d ' '
         exit $status",
    );
    out.assert_status(0);
    assert_eq!(out.stdout, "192.168.10.3/24\nreached 192.168.10.2\nlxcbr0\n", "{out:#?}");
}

#[test]
fn setns_enter_and_nsenter_join_a_running_container() {
    if !sandbox_or_skip() {
        return;
    }
    let out = in_sandbox(
        "$S7 -q --ip 192.168.10.5 sleep 300 &
         i=0; until C=$(pgrep -x -f 'sleep 300'); do i=$((i+1)); [ $i -lt 100 ] || exit 9; sleep 0.05; done
         $SE -q $C sh -c 'hostname; id -u; ip -4 -o addr show dev eth0 | tr -s \" \" | cut -d\" \" -f4'
         nsenter -t $C -u hostname
         kill -KILL $!; wait; exit 0",
    );
    out.assert_status(0);
    assert_eq!(out.stdout, "container\n0\n192.168.10.5/24\ncontainer\n", "{out:#?}");
}

/// Steps 11 to 13 in the sandbox: overlayfs in a user namespace of the sandbox's own, under the
/// container's root, which is the sandbox's root, which owns the image (made by tools/mkrootfs,
/// then given to the sandbox's user, as a learner's own image is theirs). Each writes a file in
/// its layer and reads it back; the image is unchanged after.
#[test]
fn steps_11_to_13_write_in_their_layer_over_an_image() {
    if !sandbox_or_skip() {
        return;
    }
    let image = Rootfs::build();
    let dir = image.0.join("rootfs");
    let uid = nix::unistd::geteuid().as_raw();
    let sandbox_user = if uid == 0 { 65534 } else { uid };
    let out =
        testkit::run(&["chown", "-R", &format!("{sandbox_user}:{sandbox_user}"), dir.to_str().unwrap()]);
    out.assert_status(0);
    let script = format!(
        "for s in \"$S11\" \"$S12\" \"$S13\"; do
             \"$s\" -q --image '{d}' sh -c 'echo layer > /new && cat /new && id -u'; echo \"status $?\"
         done; ls '{d}/new' 2>&1 >/dev/null | grep -c 'No such file'",
        d = dir.display()
    );
    let out = in_sandbox(&script);
    out.assert_status(0);
    assert_eq!(out.stdout, "layer\n0\nstatus 0\n".repeat(3) + "1\n", "{out:#?}");
}
