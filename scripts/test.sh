#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what is
# needed, builds with -Werror, runs `make check` (unit tests and integration
# tests against real influxd/prometheus/mock Kafka processes), runs it again
# under AddressSanitizer + UndefinedBehaviorSanitizer, then `make distcheck`.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
"$top/scripts/deps.sh"
jobs=$(nproc)

run_check() { # DIR CONFIGURE-FLAGS...
    local dir=$1
    shift
    echo "== make check in $dir ($*)"
    BUILD_DIR=$dir "$top/scripts/build.sh" "$@" >/dev/null
    if ! make -C "$dir" -j"$jobs" check; then
        find "$dir" -name '*.log' -newer "$dir/Makefile" -path '*test*' \
            -exec grep -l -E '^(not ok|FAIL|ERROR)' {} + 2>/dev/null |
            while read -r f; do echo "---- $f"; tail -n 60 "$f"; done
        return 1
    fi
}

passed=0
failed=0
count() { # DIR: add the TAP results of DIR's last make check
    local p f
    p=$(sed -n 's/^# PASS: *//p' "$1/test-suite.log" | head -n1)
    f=$(sed -n 's/^# FAIL: *//p' "$1/test-suite.log" | head -n1)
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
}
run_check "$top/build" --enable-werror
count "$top/build"
run_check "$top/build-san" --enable-werror --enable-sanitizers
count "$top/build-san"
echo "== make distcheck"
make -C "$top/build" -j"$jobs" distcheck >"$top/build/distcheck.out" 2>&1 || {
    tail -n 80 "$top/build/distcheck.out"
    exit 1
}
grep -E '^=+$|archives ready|lagwatch-.*tar' "$top/build/distcheck.out" | tail -n 3

# ---- fuzzing (scripts/fuzz.sh; tests/fuzz/) ----
# A short libFuzzer run of every harness on its seed corpus, in a clang
# build tree of its own (build-fuzz); a crash, leak or failed property
# fails the suite and prints the reproducer.
echo "== fuzz"
"$top/scripts/fuzz.sh" --seconds 20
# ---- end fuzzing ----
echo "tests: $passed passed, $failed failed"
