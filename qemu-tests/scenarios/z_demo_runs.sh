# (demo) The README's demo (scripts/demo: qemu-tests/demo.sh, issue 5 §9)
# runs to the end in a guest of the suite: every claim it narrates is one
# of its checks, so a demo that no longer shows what it says fails here
# rather than in front of a newcomer.
source "$LIN6_QEMU_TESTS/lib.sh"
status=0
bash "$LIN6_QEMU_TESTS/demo.sh" || status=$?
check "the demo showed everything it claims (exit 0)" test "$status" = 0
