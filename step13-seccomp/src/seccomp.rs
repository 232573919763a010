//! seccomp: a filter the kernel runs on every system call the container makes, as Docker's
//! default profile does.
//!
//! Namespaces hide the host, but each one is reached through the same few hundred system calls,
//! and every bug in one of them is a way out. A seccomp filter (seccomp(2),
//! <https://man7.org/linux/man-pages/man2/seccomp.2.html>) is a small program in classic BPF
//! that the kernel runs before each system call, on its number, architecture and arguments
//! (`struct seccomp_data`), and whose answer it obeys: allow, fail with an errno, or kill.
//! The filter is inherited by every child and kept across execve(2), and can never be removed.
//!
//! We build the program ourselves, instruction by instruction, from libc's constants: the
//! program is the lesson. Docker builds its own with libseccomp from a JSON profile, moby's
//! <https://github.com/moby/moby/blob/master/profiles/seccomp/default.json> (explained at
//! <https://docs.docker.com/engine/security/seccomp/>); the kernel's side is
//! <https://www.kernel.org/doc/html/latest/userspace-api/seccomp_filter.html>. Ours refuses,
//! with EPERM, what that profile refuses to a container without extra capabilities, and allows
//! the rest. It does not copy Docker's list of allowed calls, so a call added to a later kernel
//! is allowed here, where Docker refuses it.

use anyhow::{anyhow, bail, Result};
use common::{say, Args};
use nix::errno::Errno;
use nix::libc::{self, sock_filter, sock_fprog};

// ANCHOR: choose
/// `--seccomp unconfined` turns the filter off, as `docker run --security-opt
/// seccomp=unconfined` does. Checked in the parent before anything starts, and in the child.
pub fn wanted(args: &Args) -> Result<bool> {
    match args.value("--seccomp").map(|v| v.to_string_lossy()) {
        None => Ok(true),
        Some(value) if value == "unconfined" => Ok(false),
        Some(value) => bail!("--seccomp takes only 'unconfined' (no filter), not '{value}'"),
    }
}
// ANCHOR_END: choose

// ANCHOR: refused
/// The calls refused with EPERM, as Docker's default profile refuses them to a container that
/// was not given the capability they need. Most need CAP_SYS_ADMIN, which the container's root
/// holds over its own namespaces; the filter refuses them whatever capabilities it holds:
const REFUSED: &[(&str, libc::c_long)] = &[
    // The kernel's keyrings are not namespaced: a container could read or fill the host's.
    ("keyctl", libc::SYS_keyctl),
    ("add_key", libc::SYS_add_key),
    ("request_key", libc::SYS_request_key),
    // Programs loaded into the kernel, and its performance counters, which see every process.
    ("bpf", libc::SYS_bpf),
    ("perf_event_open", libc::SYS_perf_event_open),
    ("userfaultfd", libc::SYS_userfaultfd), // it can hold the kernel still, mid-copy, for an exploit
    // A new kernel, kernel modules, a reboot, the host's swap.
    ("kexec_load", libc::SYS_kexec_load),
    ("kexec_file_load", libc::SYS_kexec_file_load),
    ("init_module", libc::SYS_init_module),
    ("finit_module", libc::SYS_finit_module),
    ("delete_module", libc::SYS_delete_module),
    ("reboot", libc::SYS_reboot),
    ("swapon", libc::SYS_swapon),
    ("swapoff", libc::SYS_swapoff),
    // Mounts (with the new mount API too) and new or other namespaces: the container's view
    // of the world is the runtime's to make, and the user namespace is where most kernel bugs
    // have been reached from.
    ("mount", libc::SYS_mount),
    ("umount2", libc::SYS_umount2),
    ("pivot_root", libc::SYS_pivot_root),
    ("fsopen", libc::SYS_fsopen),
    ("fsconfig", libc::SYS_fsconfig),
    ("fsmount", libc::SYS_fsmount),
    ("fspick", libc::SYS_fspick),
    ("move_mount", libc::SYS_move_mount),
    ("open_tree", libc::SYS_open_tree),
    ("mount_setattr", libc::SYS_mount_setattr),
    ("unshare", libc::SYS_unshare),
    ("setns", libc::SYS_setns),
    ("sethostname", libc::SYS_sethostname), // the runtime set it before the filter
    ("setdomainname", libc::SYS_setdomainname),
    // A file by its handle, past every directory's permissions (the 2014 "shocker" escape).
    ("open_by_handle_at", libc::SYS_open_by_handle_at),
    // The machine's own: its clock, its kernel log, accounting, quotas, the terminal.
    ("clock_settime", libc::SYS_clock_settime),
    ("settimeofday", libc::SYS_settimeofday),
    ("syslog", libc::SYS_syslog),
    ("acct", libc::SYS_acct),
    ("quotactl", libc::SYS_quotactl),
    ("lookup_dcookie", libc::SYS_lookup_dcookie),
    ("fanotify_init", libc::SYS_fanotify_init),
    ("vhangup", libc::SYS_vhangup),
    ("quotactl_fd", libc::SYS_quotactl_fd),
    ("open_tree_attr", SYS_OPEN_TREE_ATTR),
    // io_uring: a ring of operations the kernel performs without a system call the filter
    // sees, and a rich source of kernel bugs (Docker refuses it since 25.0).
    ("io_uring_setup", libc::SYS_io_uring_setup),
    ("io_uring_enter", libc::SYS_io_uring_enter),
    ("io_uring_register", libc::SYS_io_uring_register),
    // Another process's files, memory advice and kernel objects: Docker only with
    // CAP_SYS_PTRACE, which the container does not hold.
    ("pidfd_getfd", libc::SYS_pidfd_getfd),
    ("kcmp", libc::SYS_kcmp),
    ("process_madvise", libc::SYS_process_madvise),
    // Where memory lives on a NUMA machine, the host's to decide (cpuset): Docker names
    // move_pages and migrate_pages nowhere, and allows the policy calls only with CAP_SYS_NICE.
    ("move_pages", libc::SYS_move_pages),
    ("migrate_pages", libc::SYS_migrate_pages),
    ("mbind", libc::SYS_mbind),
    ("set_mempolicy", libc::SYS_set_mempolicy),
    ("set_mempolicy_home_node", libc::SYS_set_mempolicy_home_node),
];
// Not refused: get_mempolicy, which only reads (Docker wants CAP_SYS_NICE for it too); and, as
// in Docker's profile, ptrace and process_vm_readv/writev, which it allows since Linux 4.8,
// where ptrace can no longer change a call after the filter saw it (they can reach only the
// container's own processes, which its pid namespace holds).

/// open_tree_attr(2), Linux 6.15, which libc does not name yet: numbers from 424 on are the
/// same on every architecture (but alpha), 467 on x86_64 and aarch64 alike.
const SYS_OPEN_TREE_ATTR: libc::c_long = 467;

/// x86_64's old calls and I/O ports, which Docker refuses too (aarch64 never had them).
#[cfg(target_arch = "x86_64")]
const REFUSED_HERE: &[(&str, libc::c_long)] = &[
    ("_sysctl", libc::SYS__sysctl),
    ("uselib", libc::SYS_uselib),
    ("ustat", libc::SYS_ustat),
    ("sysfs", libc::SYS_sysfs),
    ("nfsservctl", libc::SYS_nfsservctl),
    ("iopl", libc::SYS_iopl),
    ("ioperm", libc::SYS_ioperm),
];
#[cfg(not(target_arch = "x86_64"))]
const REFUSED_HERE: &[(&str, libc::c_long)] = &[];

/// personality(2) is allowed only with these values, Docker's: the default (0x0), PER_LINUX32
/// (0x8), UNAME26 (0x20000), both (0x20008), and 0xffffffff, which only asks. Any other, such
/// as ADDR_NO_RANDOMIZE (0x40000, `setarch -R`), would weaken what protects the container's
/// programs (address randomization) or change what the kernel does for them.
const PERSONALITIES: [u32; 5] = [0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff];

/// clone(2) may not make namespaces either (CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER,
/// NEWPID, NEWNET: Docker's mask 0x7e020000), or unshare's refusal would mean nothing.
const NAMESPACE_FLAGS: u32 = 0x7e02_0000;

/// socket(2) may not open AF_VSOCK (40), the sockets that reach the host's virtual machines
/// and the hypervisor: Docker allows socket only when its first argument is not 40.
const AF_VSOCK: u32 = libc::AF_VSOCK as u32;
// ANCHOR_END: refused

/// The architecture the filter lets in, as the kernel's linux/audit.h spells it: the ELF
/// machine number with "64-bit" (0x80000000) and "little-endian" (0x40000000). libc has no
/// name for them.
#[cfg(target_arch = "x86_64")]
const OUR_ARCH: u32 = 0xc000_003e; // AUDIT_ARCH_X86_64: EM_X86_64 = 62
#[cfg(target_arch = "aarch64")]
const OUR_ARCH: u32 = 0xc000_00b7; // AUDIT_ARCH_AARCH64: EM_AARCH64 = 183

/// x32 calls come in as x86_64's architecture, their number with this bit set: x32's range is
/// 0x40000000 to 0x7fffffff. From 0x80000000 up (syscall(-1) is 0xffffffff) no architecture has
/// a call, and the kernel answers ENOSYS, which programs that probe expect.
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
#[cfg(target_arch = "x86_64")]
const NO_SUCH_CALL: u32 = 0x8000_0000;

/// Where the filter reads in `struct seccomp_data` (linux/seccomp.h): `int nr; __u32 arch;
/// __u64 instruction_pointer; __u64 args[6];`. The first argument's low 32 bits come first on a
/// little-endian machine, the only kind OUR_ARCH lets in.
const NR: u32 = 0;
const ARCH: u32 = 4;
const ARG0_LOW: u32 = 16;
const _: () = assert!(std::mem::size_of::<libc::seccomp_data>() == 64);

// ANCHOR: program
/// The filter, in classic BPF: one 32-bit register (A), loads from `seccomp_data`, forward
/// jumps only (`jt`/`jf` count the instructions skipped when the test is true/false), and a
/// return value that is the verdict.
fn program() -> Vec<sock_filter> {
    let eperm = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
    // 1. The architecture first: a call's number means a different call on another one. An
    //    x86_64 process can still make i386 calls (`int $0x80`), where 26 is ptrace, not msync.
    let mut p = vec![load(ARCH), jump(libc::BPF_JEQ, OUR_ARCH, 1, 0), ret(libc::SECCOMP_RET_KILL_PROCESS)];
    // 2. The number. On x86_64, x32 calls too have AUDIT_ARCH_X86_64, and x32's mount is
    //    165 | X32_SYSCALL_BIT, which no test below would catch: x32's range is killed as a
    //    foreign architecture (libseccomp does the same; Docker's profile admits x32 with its
    //    own numbers). From NO_SUCH_CALL up, skip the kill: nothing below matches, the kernel
    //    says ENOSYS.
    p.push(load(NR));
    #[cfg(target_arch = "x86_64")]
    p.extend([
        jump(libc::BPF_JGE, NO_SUCH_CALL, 2, 0),
        jump(libc::BPF_JGE, X32_SYSCALL_BIT, 0, 1),
        ret(libc::SECCOMP_RET_KILL_PROCESS),
    ]);
    // 3. The refused calls: if the number is this one, EPERM, else go on to the next test.
    for (_, nr) in REFUSED.iter().chain(REFUSED_HERE) {
        p.extend([jump(libc::BPF_JEQ, *nr as u32, 0, 1), ret(eperm)]);
    }
    // clone3(2) passes its flags in memory, where a filter cannot read: ENOSYS makes the C
    // library fall back to clone(2), whose flags are checked below (Docker does the same).
    let enosys = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
    p.extend([jump(libc::BPF_JEQ, libc::SYS_clone3 as u32, 0, 1), ret(enosys)]);
    // 4. personality(2): allowed with one of PERSONALITIES, else EPERM.
    let n = PERSONALITIES.len() as u8;
    p.extend([jump(libc::BPF_JEQ, libc::SYS_personality as u32, 0, n + 3), load(ARG0_LOW)]);
    for (i, value) in PERSONALITIES.iter().enumerate() {
        p.push(jump(libc::BPF_JEQ, *value, n - i as u8, 0)); // to the ALLOW after the EPERM
    }
    p.extend([ret(eperm), ret(libc::SECCOMP_RET_ALLOW)]);
    // 5. socket(2): EPERM for AF_VSOCK, else allowed at once (A now holds its first argument).
    p.extend([
        jump(libc::BPF_JEQ, libc::SYS_socket as u32, 0, 4),
        load(ARG0_LOW),
        jump(libc::BPF_JEQ, AF_VSOCK, 0, 1),
        ret(eperm),
        ret(libc::SECCOMP_RET_ALLOW),
    ]);
    // 6. clone(2) without a namespace flag (its first argument on both architectures).
    p.extend([
        jump(libc::BPF_JEQ, libc::SYS_clone as u32, 0, 3),
        load(ARG0_LOW),
        jump(libc::BPF_JSET, NAMESPACE_FLAGS, 0, 1),
        ret(eperm),
    ]);
    // 7. Everything else.
    p.push(ret(libc::SECCOMP_RET_ALLOW));
    p
}

/// A = the 32-bit word at `offset` in `seccomp_data`.
fn load(offset: u32) -> sock_filter {
    sock_filter { code: (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16, jt: 0, jf: 0, k: offset }
}

/// Compare A with `k` (`BPF_JEQ` A == k, `BPF_JGE` A >= k, `BPF_JSET` A & k != 0), then skip
/// `jt` instructions if true, `jf` if false.
fn jump(test: u32, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code: (libc::BPF_JMP | test | libc::BPF_K) as u16, jt, jf, k }
}

/// The verdict, SECCOMP_RET_* (the errno, if any, in its low 16 bits).
fn ret(verdict: u32) -> sock_filter {
    sock_filter { code: (libc::BPF_RET | libc::BPF_K) as u16, jt: 0, jf: 0, k: verdict }
}
// ANCHOR_END: program

// ANCHOR: install
/// In the child, last before exec: install the filter, for this process and all it starts.
///
/// The kernel installs a filter only for a process that has set no_new_privs
/// (PR_SET_NO_NEW_PRIVS, <https://man7.org/linux/man-pages/man2/pr_set_no_new_privs.2const.html>)
/// or holds CAP_SYS_ADMIN in its user namespace: otherwise a setuid program could be started
/// under a filter that makes it misbehave. Our child is root in its own user namespace with
/// every capability, so it needs no no_new_privs; that is why the filter goes in before
/// capabilities are dropped, as runc does when no_new_privs is not asked for (with it, runc
/// installs the filter as late as it can, after the drop).
pub fn install(wanted: bool) -> Result<()> {
    if !wanted {
        say!("child: no seccomp filter (--seccomp unconfined): every system call is allowed");
        return Ok(());
    }
    let mut filter = program();
    let prog = sock_fprog { len: filter.len() as u16, filter: filter.as_mut_ptr() };
    // SAFETY: seccomp(2) reads `prog` and the `len` instructions it points to, both alive and
    // unchanged for the whole call (the kernel copies them), and writes nothing of ours.
    let rc = unsafe {
        libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0, &prog as *const sock_fprog)
    };
    Errno::result(rc).map_err(|errno| {
        let why = match errno {
            Errno::EINVAL => "no seccomp filters in this kernel (CONFIG_SECCOMP_FILTER), or before 4.14",
            Errno::EACCES => "neither no_new_privs nor CAP_SYS_ADMIN",
            _ => "unexpected",
        };
        anyhow!("seccomp(SECCOMP_SET_MODE_FILTER) failed: {errno}: {why}; --seccomp unconfined goes without")
    })?;
    let names: Vec<&str> = REFUSED.iter().chain(REFUSED_HERE).map(|(name, _)| *name).collect();
    say!("child: seccomp filter of {} instructions: a foreign architecture is killed", filter.len());
    say!("child: seccomp refuses with EPERM: {}", names.join(" "));
    let values: Vec<String> = PERSONALITIES.iter().map(|v| format!("{v:#x}")).collect();
    say!("child: and personality except {}, socket(AF_VSOCK), clone with namespace flags", values.join(" "));
    Ok(())
}
// ANCHOR_END: install

/// Every jump lands inside the program (the kernel would refuse it with EINVAL), and what no
/// test matches is allowed.
#[cfg(test)]
mod tests {
    #[test]
    fn jumps_stay_inside() {
        let p = super::program();
        let jumps =
            p.iter().enumerate().filter(|(_, insn)| u32::from(insn.code) & 0x07 == nix::libc::BPF_JMP);
        for (i, insn) in jumps {
            assert!(i + 1 + (insn.jt.max(insn.jf) as usize) < p.len(), "instruction {i} jumps out");
        }
        assert_eq!(p.last().unwrap().k, nix::libc::SECCOMP_RET_ALLOW);
    }
}
