#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what is
# needed (scripts/deps.sh test), then runs three stages, each whatever the
# others gave:
#   plain      build with -Werror, `make check` (unit tests and integration
#              tests against real influxd/prometheus/mock Kafka processes)
#   sanitizers the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   distcheck  `make distcheck-quick`: the tarball builds, installs and passes
#              its unit, style and docs tests (the integration suite ran above)
#   fuzz       scripts/fuzz.sh --seconds 20: every libFuzzer harness on its
#              seed corpus (tests/fuzz/), one result per harness
# Each stage reports its counts; the last line is the total, in this form:
#   tests: N passed, N failed, N skipped
# A stage that fails outside its tests (configure, build, packaging) counts
# as one failure, as does a failed package install. The exit status is
# non-zero when anything failed.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc)
passed=0
failed=0
skipped=0

# Without every package some stages fail; they still run and say so.
if ! "$top/scripts/deps.sh" test; then
    echo "== deps: scripts/deps.sh test failed; running what can run"
    failed=1
fi

# tally STAGE LOG-WITH-AUTOMAKE-SUMMARY STATUS: adds the counts of a
# `make check` run (its "# PASS:" ... lines); failures are FAIL, XPASS and
# ERROR. A failed stage without failed tests counts once.
tally() {
    local stage=$1 log=$2 status=$3 p f s x e
    p=$(sed -n 's/^# PASS: *//p' "$log" 2>/dev/null | tail -n 1)
    f=$(sed -n 's/^# FAIL: *//p' "$log" 2>/dev/null | tail -n 1)
    s=$(sed -n 's/^# SKIP: *//p' "$log" 2>/dev/null | tail -n 1)
    x=$(sed -n 's/^# XPASS: *//p' "$log" 2>/dev/null | tail -n 1)
    e=$(sed -n 's/^# ERROR: *//p' "$log" 2>/dev/null | tail -n 1)
    f=$((${f:-0} + ${x:-0} + ${e:-0}))
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "== $stage failed outside its tests (see $log)"
        f=1
    fi
    echo "== $stage: ${p:-0} passed, $f failed, ${s:-0} skipped"
    passed=$((passed + ${p:-0}))
    failed=$((failed + f))
    skipped=$((skipped + ${s:-0}))
}

# excerpt DIR STAMP: the failing lines of every test log under DIR written
# after STAMP ("not ok", FAIL, ERROR), each with a few lines around it.
excerpt() {
    find "$1" -name '*.log' -newer "$2" -path '*test*' \
        ! -name test-suite.log -exec grep -l -E '^(not ok|FAIL|ERROR)' {} + \
        2>/dev/null | sort | while read -r f; do
        echo "---- $f"
        grep -n -B 3 -A 6 -E '^(not ok|FAIL|ERROR)' "$f" | head -n 120
    done
}

run_check() { # STAGE DIR CONFIGURE-FLAGS...
    local stage=$1 dir=$2 rc
    shift 2
    echo "== $stage: make check in $dir ($*)"
    mkdir -p "$dir"
    touch "$dir/.stage-start"
    rm -f "$dir/test-suite.log"
    if ! BUILD_DIR=$dir "$top/scripts/build.sh" "$@" >"$dir/build.out" 2>&1; then
        tail -n 40 "$dir/build.out"
        tally "$stage" "$dir/build.out" 1
        return
    fi
    echo "   (output in $dir/check.out)"
    make -C "$dir" -j"$jobs" check >"$dir/check.out" 2>&1
    rc=$?
    [ $rc -eq 0 ] || excerpt "$dir" "$dir/.stage-start"
    tally "$stage" "$dir/check.out" $rc
}

run_check plain "$top/build" --enable-werror
run_check sanitizers "$top/build-san" --enable-werror --enable-sanitizers

echo "== distcheck: make distcheck-quick in $top/build (output in $top/build/distcheck.out)"
touch "$top/build/.stage-start"
make -C "$top/build" -j"$jobs" distcheck-quick >"$top/build/distcheck.out" 2>&1
rc=$?
if [ $rc -eq 0 ]; then
    grep -E 'archives ready|lagwatch-.*tar' "$top/build/distcheck.out" | tail -n 2
else
    excerpt "$top/build" "$top/build/.stage-start"
    tail -n 30 "$top/build/distcheck.out"
fi
tally distcheck "$top/build/distcheck.out" $rc

# A crash, leak, timeout or failed property fails its harness and prints
# the reproducer (README.md, Reliability).
echo "== fuzz: scripts/fuzz.sh --seconds 20 (output in $top/build-fuzz/fuzz.out)"
mkdir -p "$top/build-fuzz"
"$top/scripts/fuzz.sh" --seconds 20 >"$top/build-fuzz/fuzz.out" 2>&1
rc=$?
sed -n '/^== fuzz summary/,$p' "$top/build-fuzz/fuzz.out"
fp=$(grep -cE '^[a-z_]+ +[0-9]+s execs=' "$top/build-fuzz/fuzz.out")
ff=$(grep -cE '^[a-z_]+ +[0-9]+s execs=.*FAILED$' "$top/build-fuzz/fuzz.out")
fp=$((fp - ff))
if [ $rc -ne 0 ] && [ "$ff" -eq 0 ]; then
    tail -n 30 "$top/build-fuzz/fuzz.out"
    ff=1
fi
echo "== fuzz: $fp passed, $ff failed, 0 skipped"
passed=$((passed + fp))
failed=$((failed + ff))

echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
