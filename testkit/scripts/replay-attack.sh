# Replay an attack by another user, in a /tmp of our own. Run by root inside
# `unshare --mount --propagation private`: the tmpfs mounted on /tmp here hides the real /tmp
# from everything started here, and whatever happens here stays here.
#
# $VICTIM runs first, as root: files that an attack would reach, such as a directory of mode 0700.
# $PLANT runs next, as nobody, with a minimal environment and $1 the PID that the test will
# have: what an ordinary user could make in /tmp before root runs the tests.
# Then "$@", a test binary and the one test to run, runs as root, with its output on stderr.
#
# Prints `status N`, the test's exit status, then each difference between /tmp before the test
# and once it has ended and removed its own files: `< before` and `> after` lines.
#
# $KEEP, if set, is a directory under the real /tmp that the test needs (a workspace cloned
# there, with the test binaries): it is bound at the same path in our /tmp, and left out of
# the comparison.
set -eu
if [ -n "${KEEP:-}" ]; then exec 9<"$KEEP"; fi
mount -t tmpfs -o mode=1777 tmpfs /tmp
if [ -n "${KEEP:-}" ]; then
    mkdir -p "$KEEP"
    mount --no-canonicalize --bind /proc/self/fd/9 "$KEEP" # the fd: the name leads into our tmpfs now
    exec 9<&-
fi
mkdir -m 700 /tmp/.replay
sh -ec "$VICTIM"

# The test is started first, for its PID, and waits on a fifo until the plant is in place. A
# job in the background of a shell starts with SIGINT ignored; the test gets it back, as a
# test started from a terminal has it.
mkfifo /tmp/.replay/go
sh -c 'read _ </tmp/.replay/go; exec env --default-signal=INT "$@" >&2' test "$@" &
test_pid=$!
if ! setpriv --reuid=65534 --regid=65534 --clear-groups \
        env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin sh -ec "$PLANT" plant "$test_pid" </dev/null >&2; then
    echo "replay: the plant failed" >&2
    kill "$test_pid"
    exit 1
fi

# Every name in /tmp with its owner, mode, type and symlink target, and every file's checksum.
snapshot() {
    find /tmp -mindepth 1 \( -path /tmp/.replay -o -path "${KEEP:-/tmp/.replay}" \) -prune -o \
        -printf '%p %u:%g %m %y %l\n' | sort
    find /tmp -mindepth 1 \( -path /tmp/.replay -o -path "${KEEP:-/tmp/.replay}" \) -prune -o \
        -type f -exec cksum {} + | sort
}
snapshot >/tmp/.replay/before
echo go >/tmp/.replay/go
status=0
wait "$test_pid" || status=$?
# A test process's janitor removes its directory a moment after it has ended: 10 s at most.
i=0
while ! snapshot | cmp -s /tmp/.replay/before - && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
echo "status $status"
snapshot | diff /tmp/.replay/before - | grep '^[<>]' || true
