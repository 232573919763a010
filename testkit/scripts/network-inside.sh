# Inside step07's container: the interfaces that are up, eth0's address, the default route,
# and whether the bridge answers.
ip -o link show up | cut -d: -f2 | cut -d@ -f1 | tr -d ' ' | tr '\n' ' '; echo
ip -4 -o addr show dev eth0 | tr -s ' ' | cut -d' ' -f4
ip route show default
ping -c1 -W2 192.168.10.1 >/dev/null && echo reached-bridge
