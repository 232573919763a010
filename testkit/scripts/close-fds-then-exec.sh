# Run by bash: close every fd above 2 that this shell inherited, then exec "$@", so that the
# step starts with fds 0, 1 and 2 only, whatever the test process had open.
for fd in $(ls /proc/$$/fd); do
    [ "$fd" -gt 2 ] && eval "exec $fd>&-"
done
exec "$@"
