//! A system call of another architecture, from an x86_64 program: `i386` makes getpid as
//! i386 numbers it (20), through `int $0x80`; `x32` makes it as x32 numbers it (39 with bit
//! 0x40000000), through `syscall`. It prints a line before, and one after if it is still alive.
//! testkit/src/seccomp.rs compiles it with rustc and runs it in a container, where a seccomp
//! filter that checks the architecture kills it (SIGSYS, status 159) between the two lines.

use std::arch::asm;
use std::io::Write;

fn main() {
    let abi = std::env::args().nth(1).unwrap_or_default();
    let nr: i64 = match abi.as_str() {
        "i386" => 20,
        "x32" => 0x4000_0000 | 39,
        _ => {
            eprintln!("usage: foreign-call i386|x32");
            std::process::exit(2)
        }
    };
    println!("before the {abi} call");
    std::io::stdout().flush().unwrap();
    let ret: i64;
    if abi == "i386" {
        // SAFETY: i386's getpid reads no argument and writes only eax; a 64-bit kernel may
        // clear r8-r11 on the way back, so they are declared clobbered.
        unsafe {
            asm!("int 0x80", inlateout("rax") nr => ret, out("r8") _, out("r9") _, out("r10") _, out("r11") _)
        };
    } else {
        // SAFETY: getpid reads no argument; `syscall` clobbers rcx and r11, the result is in rax.
        unsafe { asm!("syscall", inlateout("rax") nr => ret, out("rcx") _, out("r11") _) };
    }
    // A kernel without i386 or x32 support answers -ENOSYS (-38), or SIGSEGV for `int $0x80`.
    println!("after the {abi} call: {ret}");
}
