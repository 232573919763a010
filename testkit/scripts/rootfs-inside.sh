# Inside a container with --rootfs: the rootfs's own file, the host's files, the hostname,
# /dev, /tmp, the mount points (not those under /sys and /proc: step12's masks), and the processes.
cat /etc/rootfs-marker
test -e /etc/os-release && echo host-files-visible
hostname
ls /dev | tr '\n' ' '; echo
test -c /dev/null && echo dev-null-is-a-device
touch /tmp/x && echo tmp-writable
cut -d' ' -f5 /proc/self/mountinfo | grep -v -e '^/sys/' -e '^/proc/' | sort | tr '\n' ' '; echo
exec ps -e -o pid=,comm=
