//! What [`Lifeline`](crate::Lifeline) hands across `clone(2)` to the code that runs after it:
//! the "command starts" pipe's ends, for [`exec`](crate::exec) (in the child) and
//! [`wait_for`](crate::wait_for) (in the parent), and the command's terminal, which `wait_for`
//! relays. Lifeline writes them; exec.rs and wait.rs read them, so neither imports the other.

use crate::session::Console;
use std::sync::atomic::AtomicI32;
use std::sync::Mutex;

/// In the child: the write end of the "command starts" pipe, which `exec` writes to.
pub(crate) static COMMAND_STARTS_W: AtomicI32 = AtomicI32::new(-1);
/// In the parent: its read end, which `wait_for` reads.
pub(crate) static COMMAND_STARTS: AtomicI32 = AtomicI32::new(-1);
/// In the parent: the command's terminal, if it has one, which `wait_for` relays.
pub(crate) static CONSOLE: Mutex<Option<Console>> = Mutex::new(None);
