# Container B: wait for A's address (200 waits of 50 ms at most), print both, ping A.
d=$1
i=0; while [ ! -e "$d/a" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
a=$(cat "$d/a"); echo "a $a"
echo "b $(ip -4 -o addr show dev eth0 | tr -s ' ' | cut -d' ' -f4 | cut -d/ -f1)"
ping -c1 -W2 "$a" >/dev/null && echo b-reached-a
touch "$d/done"
