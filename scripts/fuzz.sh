#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz/ with clang and runs each for
# a while on a copy of its corpus (tests/fuzz/corpus/NAME/).
#
#   scripts/fuzz.sh [--seconds N] [--build-only] [NAME...]
#
# NAME is a harness (promparse, flink_json, config, spool, rwproto,
# promproto, http, influxql, lpparse); default all. N defaults to 20. The
# harnesses link the project's own libraries, built by a second configure
# tree ($FUZZ_BUILD_DIR, default ./build-fuzz) with CC=clang and
# -fsanitize=fuzzer-no-link,address,undefined, so they test exactly the
# objects of the daemon. Exits non-zero on any crash, leak, timeout or
# failed property, printing the reproducer; rerun one with
# build-fuzz/fuzz/NAME FILE. Needs clang and the libFuzzer runtime
# (scripts/deps.sh installs them).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD_DIR:-$top/build-fuzz}
seconds=20
build_only=false
names=()
while [ $# -gt 0 ]; do
    case $1 in
    --seconds)
        seconds=${2:?--seconds needs a number}
        shift 2
        ;;
    --seconds=*)
        seconds=${1#--seconds=}
        shift
        ;;
    --build-only)
        build_only=true
        shift
        ;;
    -h | --help)
        sed -n '2,15s/^# \{0,1\}//p' "$0"
        exit 0
        ;;
    -*)
        echo "fuzz.sh: unknown option '$1'" >&2
        exit 2
        ;;
    *)
        names+=("$1")
        shift
        ;;
    esac
done
case $seconds in
'' | *[!0-9]*)
    echo "fuzz.sh: --seconds wants a whole number, not '$seconds'" >&2
    exit 2
    ;;
esac
all=()
for f in "$top"/tests/fuzz/fuzz_*.c; do
    n=${f##*/fuzz_}
    all+=("${n%.c}")
done
[ ${#names[@]} -gt 0 ] || names=("${all[@]}")
for n in "${names[@]}"; do
    [ -f "$top/tests/fuzz/fuzz_$n.c" ] || {
        echo "fuzz.sh: no harness '$n' (have: ${all[*]})" >&2
        exit 2
    }
done

CC=${FUZZ_CC:-clang}
command -v "$CC" >/dev/null || {
    echo "fuzz.sh: '$CC' not found; run scripts/deps.sh (clang)" >&2
    exit 1
}
jobs=${FUZZ_JOBS:-2}
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
# -Wno-string-concatenation: clang's heuristic flags an array of header
# lines where one is "..." PACKAGE_VERSION; gcc (the normal build) has none.
cflags="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link $san"
cflags="$cflags -Wno-string-concatenation"

cd "$top"
if [ ! -x configure ] || [ configure.ac -nt configure ] ||
   [ Makefile.am -nt configure ]; then
    autoreconf -fi >/dev/null
fi
mkdir -p "$build"
cd "$build"
if [ ! -f Makefile ] || [ "$(cat .fuzzflags 2>/dev/null)" != "$CC $cflags" ]; then
    echo "== configure $build (CC=$CC)"
    # objects do not depend on CFLAGS in make's eyes: start over
    [ ! -f Makefile ] || make clean >/dev/null 2>&1 || true
    "$top/configure" CC="$CC" CFLAGS="$cflags" >configure.out 2>&1 || {
        tail -n 30 configure.out
        exit 1
    }
    echo "$CC $cflags" >.fuzzflags
fi
# The link line of the daemon's libraries, from the Makefile itself, so a
# library added to AGENT_LIBS is built and linked here too.
# shellcheck disable=SC2016 # $(...) is make's, not the shell's
read -r -a agent_libs < <(printf 'fuzz-print-libs:\n\t@echo $(AGENT_LIBS)\n' |
    make -s -f Makefile -f - fuzz-print-libs)
# DEFS holds configure's -D flags, quoted for a shell (PACKAGE_STRING has a
# space), hence the eval of the Makefile's own text.
# shellcheck disable=SC2016
cflags_line=$(printf 'fuzz-print-cflags:\n\t@echo $(DEFS) $(LIB_CFLAGS)\n' |
    make -s -f Makefile -f - fuzz-print-cflags)
dep_cflags=()
eval "dep_cflags=($cflags_line)"
libs=()
for a in "${agent_libs[@]}"; do
    case $a in *.a) libs+=("$a") ;; esac
done
# The generated sources (protoc-c output) first: the objects include their
# headers, which only "make all" would make, through BUILT_SOURCES.
# shellcheck disable=SC2016
read -r -a built < <(printf 'fuzz-print-built:\n\t@echo $(BUILT_SOURCES)\n' |
    make -s -f Makefile -f - fuzz-print-built)
echo "== build the libraries in $build"
if ! { make -j"$jobs" "${built[@]}" && make -j"$jobs" "${libs[@]}"; } \
    >make.out 2>&1; then
    grep -E 'error|Error' make.out | head -n 30 || tail -n 30 make.out
    exit 1
fi
mkdir -p fuzz
for n in "${names[@]}"; do
    src=$top/tests/fuzz/fuzz_$n.c
    bin=fuzz/$n
    if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ] ||
       [ "$top/tests/fuzz/fuzz_common.h" -nt "$bin" ] ||
       [ -n "$(find "${libs[@]}" -newer "$bin" 2>/dev/null)" ]; then
        echo "== link $bin"
        # shellcheck disable=SC2086
        "$CC" -std=gnu11 -Wall -Wextra -Werror $cflags -fsanitize=fuzzer \
            -I"$top" -I"$top/agent" -I"$top/sinks" -I. "${dep_cflags[@]}" \
            "$src" -o "$bin" "${agent_libs[@]}"
    fi
done
$build_only && exit 0

# Runs: each on a scratch copy of its corpus so that what a run finds does
# not dirty the tree (copy interesting ones into tests/fuzz/corpus/ by hand).
runs=$build/fuzz-runs
rm -rf "$runs"
mkdir -p "$runs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0
summary=()
for n in "${names[@]}"; do
    corpus=$runs/$n-corpus
    mkdir -p "$corpus" "$runs/$n-artifacts"
    [ -d "$top/tests/fuzz/corpus/$n" ] && cp -r "$top/tests/fuzz/corpus/$n/." "$corpus/"
    dict=()
    [ -f "$top/tests/fuzz/$n.dict" ] && dict=(-dict="$top/tests/fuzz/$n.dict")
    log=$runs/$n.log
    echo "== fuzz $n for ${seconds}s"
    rc=0
    "fuzz/$n" "$corpus" "${dict[@]}" -max_total_time="$seconds" \
        -timeout=1 -rss_limit_mb=2048 -detect_leaks=1 -print_final_stats=1 \
        -artifact_prefix="$runs/$n-artifacts/" </dev/null >"$log" 2>&1 ||
        rc=$?
    final=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -n 1)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$final")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$final")
    corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$final")
    line=$(printf '%-11s %3ss execs=%-9s cov=%-6s ft=%-6s corpus=%s' "$n" \
        "$seconds" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}")
    if [ "$rc" -ne 0 ]; then
        failed=1
        repro=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
        echo "FAIL: $n (exit $rc); log $log"
        grep -E 'ERROR: |SUMMARY: |property failed|runtime error' "$log" | head -n 5
        [ -n "$repro" ] && echo "reproducer: $repro (rerun: $build/fuzz/$n $repro)"
        line="$line  FAILED"
    fi
    summary+=("$line")
done
echo "== fuzz summary ($(uname -m), $(date -u +%Y-%m-%dT%H:%MZ))"
printf '%s\n' "${summary[@]}"
exit $failed
