# The command: say which signal came, and exit 42. sh runs a trap between two commands, so the
# loop's short sleeps let it run soon; they run in the foreground, so none is left behind.
for s in INT HUP QUIT TERM; do trap "echo got $s; exit 42" $s; done
echo ready
while :; do sleep 0.1; done
