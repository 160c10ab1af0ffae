#!/usr/bin/env bash
# README.md's Layout table names every source folder there is, and no
# folder that is not: the architecture the README describes is the one on
# disk ("How a sample flows").
here=$(cd "$(dirname "$0")" && pwd)
. "$here/style_lib.sh"
readme=$srcdir/README.md
on_disk=$(cd "$srcdir" && find agent sinks -mindepth 1 -maxdepth 1 -type d \
    ! -name '.*' ! -name '.deps' | LC_ALL=C sort)
# folders named in the table's first column, e.g. | `agent/flink/`, ... |
in_readme=$(sed -n '/^## Layout/,/^## /p' "$readme" | grep '^| `' |
    cut -d'|' -f2 | grep -o '`[a-z_]*/[a-z_]*/`' | tr -d '`' | sed 's#/$##' |
    LC_ALL=C sort -u)
missing=$(comm -23 <(printf '%s\n' "$on_disk") <(printf '%s\n' "$in_readme"))
extra=$(comm -13 <(printf '%s\n' "$on_disk") <(printf '%s\n' "$in_readme"))
tap_check "every folder of agent/ and sinks/ is in README's Layout" test -z "$missing"
[ -z "$missing" ] || tap_diag "missing: $missing"
tap_check "README's Layout names no folder that does not exist" test -z "$extra"
[ -z "$extra" ] || tap_diag "not on disk: $extra"
tap_done
