# In a throwaway network namespace: two containers of "$@" (the step) at once, A and B, which
# meet in the directory $DIR. Then: how many veths are left once the kernel has removed theirs
# (it does so in the background: wait 5 s at most), and whether the bridge stays.
"$@" -q sh "$DIR/a.sh" "$DIR" &
"$@" -q sh "$DIR/b.sh" "$DIR"
wait
i=0; while ip -o link | grep -q 'veth' && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
ip -o link | grep -c 'veth' || true
ip -o link show lxcbr0 >/dev/null && echo bridge-kept
