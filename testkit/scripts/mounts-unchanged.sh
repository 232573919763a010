# Run "$@" (the step), then print the size of this mount table before and after it, and
# whether this namespace's /proc is still the one that shows this shell.
before=$(wc -l < /proc/self/mountinfo)
"$@" >/dev/null || exit 99
after=$(wc -l < /proc/self/mountinfo)
echo "mounts $before $after"
test -d /proc/$$ && echo proc-is-ours
