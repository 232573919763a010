# A terminal for a test: runs a command on a new pseudo-terminal, as a user's shell would be,
# and plays a script of actions on it. Called by testkit/src/terminal.rs:
#   python3 pty-driver.py ACTIONS COMMAND [ARG...]
# ACTIONS, one per line:
#   winsize ROWS COLS   set the terminal's size (before or after start)
#   modes NAME          record the terminal's modes (termios) under NAME
#   start               fork COMMAND as a session leader with the terminal as its own
#   send TEXT           type TEXT (Python escapes: \n, \x03 for Ctrl-C, \x1a for Ctrl-Z)
#   expect REGEX        wait (20 s at most) until the output since the last match matches
#   pause SECS          let time pass, reading output
#   flood N             type N bytes (as many as the terminal takes in 20 s)
#   kill SIG            send signal SIG (a number) to COMMAND
#   killchild SIG       send it to COMMAND's first child (the step's container)
#   wait                wait for COMMAND to end (20 s at most)
# Prints TTYNR, RDEV (the terminal's device), MODES NAME ..., STATUS, ERROR lines, then OUTPUT and everything the terminal
# showed. On any failure it kills what it started (by PID) and says ERROR.
import fcntl, os, re, select, signal, struct, sys, termios, time

actions, command = sys.argv[1].splitlines(), sys.argv[2:]
master, slave = os.openpty()
out = b""
seen = 0
pid = None
report = []


def tty_nr(rdev):
    # how /proc/PID/stat spells a terminal's device number (proc(5), field 7)
    major, minor = os.major(rdev), os.minor(rdev)
    return (minor & 0xFF) | (major << 8) | ((minor & ~0xFF) << 12)


def read_for(seconds):
    global out
    end = time.time() + seconds
    while True:
        left = end - time.time()
        if left <= 0:
            return
        ready, _, _ = select.select([master], [], [], left)
        if not ready:
            return
        try:
            data = os.read(master, 4096)
        except OSError:
            return
        if not data:
            return
        out += data


def first_child(p):
    try:
        with open(f"/proc/{p}/task/{p}/children") as f:
            return int(f.read().split()[0])
    except (OSError, IndexError, ValueError):
        return None


def finish(error=None):
    if pid is not None and error is not None:
        child = first_child(pid)
        for p in (child, pid):
            if p:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
    if error:
        report.append("ERROR " + error.replace("\n", " "))
    sys.stdout.write("\n".join(report) + "\nOUTPUT\n")
    sys.stdout.write(out.decode(errors="replace"))
    sys.exit(0)


report.append("TTYNR %d" % tty_nr(os.fstat(slave).st_rdev))
report.append("RDEV %d" % os.fstat(slave).st_rdev)
for action in actions:
    verb, _, arg = action.partition(" ")
    if verb == "winsize":
        rows, cols = map(int, arg.split())
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    elif verb == "modes":
        report.append("MODES %s %r" % (arg, termios.tcgetattr(slave)))
    elif verb == "start":
        pid = os.fork()
        if pid == 0:
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
            for fd in (0, 1, 2):
                os.dup2(slave, fd)
            os.close(master)
            os.close(slave)
            os.execvp(command[0], command)
    elif verb == "send":
        os.write(master, arg.encode().decode("unicode_escape").encode("latin-1"))
    elif verb == "flood":
        # type N bytes that nobody reads, without blocking: the terminal may take fewer
        os.set_blocking(master, False)
        left, end = int(arg), time.time() + 20
        while left > 0 and time.time() < end:
            try:
                left -= os.write(master, b"x" * min(left, 4096))
            except BlockingIOError:
                read_for(0.05)
        os.set_blocking(master, True)
        report.append("FLOODED %d" % (int(arg) - left))
    elif verb == "expect":
        end = time.time() + 20
        while not re.search(arg.encode(), out[seen:]):
            if time.time() > end:
                finish("timed out expecting %r" % arg)
            read_for(0.1)
        seen += re.search(arg.encode(), out[seen:]).end()
    elif verb == "pause":
        read_for(float(arg))
    elif verb == "kill":
        os.kill(pid, int(arg))
    elif verb == "killchild":
        child = first_child(pid)
        if child is None:
            finish("no child of PID %d to kill" % pid)
        os.kill(child, int(arg))
    elif verb == "wait":
        end = time.time() + 20
        while True:
            read_for(0.05)
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.time() > end:
                finish("timed out waiting for the command to end")
        read_for(0.2)
        code = os.waitstatus_to_exitcode(status)
        report.append("STATUS %d" % (code if code >= 0 else 128 - code))
        pid = None
    else:
        finish("unknown action %r" % action)
finish()
