# TAP output for the shell tests of tests/functional, and their common
# set-up; sourced with top set (the repository).
#
# SPDX-License-Identifier: GPL-2.0-or-later

# tap_plan N: the plan line; n and failed count the tests run and failed
tap_plan() {
    N=$1
    echo "1..$N"
    n=0 failed=0
}

# tap_need_guest: $guest, the built guest; without one every test is
# skipped and the script exits
tap_need_guest() {
    if ! guest=$("$top/scripts/guest/build-guest.sh" --path); then
        for i in $(seq 1 "$N"); do echo "ok $i - # SKIP the guest is not built (make guest)"; done
        exit 0
    fi
}

# tap_workdir NAME: $work, a scratch directory removed at exit, after
# killing boot.sh if $bpid is set; $con, $dump and $live: files in it
tap_workdir() {
    work=$(mktemp -d "/tmp/qac-$1.XXXXXX")
    bpid=
    trap tap_cleanup EXIT
    con=$work/console.log dump=$work/exit-dump.json live=$work/live-dump.json
}

tap_cleanup() {
    [ -n "${bpid:-}" ] && kill "$bpid" 2>/dev/null
    rm -rf "$work"
}

tap_skip() {    # tap_skip DESCRIPTION WHY: counted, not run
    n=$((n + 1))
    echo "ok $n - $1 # SKIP $2"
}

t() {   # t DESCRIPTION COMMAND...
    local d=$1; shift
    n=$((n + 1))
    if "$@" >"$work/t.out" 2>&1; then
        echo "ok $n - $d"
    else
        echo "not ok $n - $d"
        failed=$((failed + 1))
        sed 's/^/# /' "$work/t.out" | tail -n 20
    fi
}

# t_exit_clean DUMP: the stand-in's exit dump reports no leaked host-kernel
# object and no refused destroy
t_exit_clean() {
    t "no leaked host-kernel object and no refused destroy at QEMU's exit" /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print("leaks", d.get("leaks"), "rejected", d.get("rejected_destroys"))
assert d.get("leaks") == [] and d.get("rejected_destroys") == []
' "$1"
}
