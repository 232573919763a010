# In a throwaway network namespace: "$@" (the step) with only the empty directory $EMPTY_DIR in
# PATH, so that it finds no `ip`; then its exit status, and how many interfaces other than lo
# it left behind.
(PATH=$EMPTY_DIR; "$@" true); echo "status $?"
ip -o link | grep -vc ': lo:' || true
