# lin6.ko loads, says so, unloads and loads again cleanly.
source "$LIN6_QEMU_TESTS/lib.sh"
check "module is loaded" grep -q '^lin6 ' /proc/modules
check "rmmod succeeds" rmmod lin6
check "module is gone" bash -c "! grep -q '^lin6 ' /proc/modules"
check "insmod again succeeds" insmod "$LIN6_KO"
check "load and unload were logged" bash -c "dmesg | grep -q 'lin6: unloaded' && dmesg | grep -q 'lin6: loaded'"
