#!/usr/bin/env bash
# Every C file is formatted as .clang-format says (clang-format 14, the
# version Debian 12 ships); `make check-format` runs this alone. A file that
# differs fails with the first lines of the difference.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/style_lib.sh"
command -v clang-format >/dev/null || tap_skip_all "clang-format not installed"
bad=0
while read -r f; do
    if ! out=$(cd "$srcdir" && clang-format --style=file "$f" | diff -u "$f" -); then
        bad=$((bad + 1))
        tap_diag "$f differs from clang-format --style=file:" \
            "$(printf '%s\n' "$out" | head -n 12)"
    fi
done < <(c_sources)
n=$(c_sources | wc -l)
tap_check "all $n C files are clang-formatted ($bad differ; fix with clang-format --style=file -i FILE)" \
    test "$bad" -eq 0
tap_done
