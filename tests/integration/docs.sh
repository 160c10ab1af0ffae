#!/usr/bin/env bash
# The man pages cannot drift from the code: every configuration key the
# loader accepts (`lagwatch check --keys`, from the loader's own table) is
# documented in lagwatch.yml(5), and every long option of every subcommand
# (the getopt tables in agent/cmd/cmd_*.c) in lagwatch(8); README.md's command
# list names every subcommand; the shipped deploy/lagwatch.yml shows the
# defaults lagwatch.yml(5) states (config_defaults_check.py).
set -u
. "$(cd "$(dirname "$0")/../lib" && pwd)/itest.sh"
it_need lagwatch
it_init docs

# groff escapes '-' as '\-'; undo that to search the text.
yml=$(sed 's/\\-/-/g' "$srcdir/man/lagwatch.yml.5")
cli=$(sed 's/\\-/-/g' "$srcdir/man/lagwatch.8")

keys=$("$LAGWATCH" check --keys)
tap_check "lagwatch check --keys lists keys" test -n "$keys"
missing=
for k in $keys; do
    grep -qF -- ".B $k" <<<"$yml" || missing="$missing $k"
done
tap_check "every config key is documented in lagwatch.yml(5)" test -z "$missing"
[ -z "$missing" ] || tap_diag "undocumented keys:$missing"

flags=$(grep -ho '{"[a-z][a-z-]*", *\(no\|required\|optional\)_argument' "$srcdir"/agent/cmd/cmd_*.c |
    sed 's/{"\([a-z-]*\)".*/\1/' | sort -u)
tap_check "the subcommands have long options" test -n "$flags"
missing=
for f in $flags; do
    grep -qF -- "--$f" <<<"$cli" || missing="$missing --$f"
done
tap_check "every long option is documented in lagwatch(8)" test -z "$missing"
[ -z "$missing" ] || tap_diag "undocumented options:$missing"

missing=
for c in run check lag ring scrape proxy; do
    grep -q "^lagwatch $c" "$srcdir/README.md" || missing="$missing $c"
    grep -q "^.B lagwatch $c" "$srcdir/man/lagwatch.8" || missing="$missing man:$c"
done
tap_check "README and lagwatch(8) list every subcommand" test -z "$missing"
[ -z "$missing" ] || tap_diag "missing:$missing"

# The file users edit shows the defaults (commented out) as lagwatch.yml(5)
# states them.
printf '%s\n' $keys >"$TEST_TMPDIR/keys"
it_tool "deploy/lagwatch.yml agrees with lagwatch.yml(5)'s defaults" \
    python3 "$srcdir/tests/integration/config_defaults_check.py" \
    "$TEST_TMPDIR/keys" "$srcdir/man/lagwatch.yml.5" "$srcdir/deploy/lagwatch.yml"
tap_check "deploy/lagwatch.yml no longer says the spool is not implemented" \
    test -z "$(grep -i 'not implemented' "$srcdir/deploy/lagwatch.yml")"
tap_done
