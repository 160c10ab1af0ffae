# tap.sh: TAP helpers for the shell integration tests (sourced).
# Each check prints "ok N - desc" or "not ok N - desc"; tap_done prints the
# plan last (TAP allows a trailing plan) and returns the exit status.
TAP_N=0
TAP_FAILED=0

tap_ok() {
    TAP_N=$((TAP_N + 1))
    echo "ok $TAP_N - $*"
}

tap_not_ok() {
    TAP_N=$((TAP_N + 1))
    TAP_FAILED=$((TAP_FAILED + 1))
    echo "not ok $TAP_N - $*"
}

# tap_check DESC CMD...: runs CMD, ok when it exits 0.
tap_check() {
    local desc=$1
    shift
    if "$@"; then tap_ok "$desc"; else tap_not_ok "$desc"; fi
}

# tap_diag TEXT...: diagnostics, one "# " line per input line.
tap_diag() {
    printf '%s\n' "$@" | sed 's/^/# /'
}

# tap_include CMD...: runs a command that prints unnumbered TAP lines
# ("ok - x" / "not ok - x" / "# ..."), renumbers them into this script's
# stream and counts them.
tap_include() {
    local line
    while IFS= read -r line; do
        case $line in
        "ok "*) tap_ok "${line#ok - }" ;;
        "not ok "*) tap_not_ok "${line#not ok - }" ;;
        *) echo "# ${line#\# }" ;;
        esac
    done < <("$@" 2>&1; echo "# exit status $?")
}

tap_skip_all() {
    echo "1..0 # SKIP $*"
    exit 0
}

tap_done() {
    echo "1..$TAP_N"
    [ "$TAP_FAILED" -eq 0 ]
}
