#!/usr/bin/env bash
# No call that the project bans: unbounded string writes (sprintf, strcpy,
# strcat, gets), conversions that cannot report an error (atoi, atol,
# atoll) and strtok's hidden state. Use snprintf, struct buf
# (util/buf.h), memcpy with a known length, strtoull/strtod with an end
# pointer. Lines that are comments are not calls.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/style_lib.sh"
re='(^|[^A-Za-z0-9_.>])(sprintf|vsprintf|strcpy|strcat|gets|atoi|atol|atoll|strtok|tmpnam)[[:space:]]*\('
hits=$(cd "$srcdir" && c_sources | xargs grep -nE "$re" /dev/null |
    grep -vE ':[0-9]+:[[:space:]]*(/?\*|//)')
tap_check "no banned call in the C sources" test -z "$hits"
[ -z "$hits" ] || tap_diag "$hits"
# Comments cite the man pages (lagwatch(8), SECTION), which ship with the
# code, never a document outside the repository.
outside=$(cd "$srcdir" && c_sources | xargs grep -nE '\bSPEC\b|/work/|\.\./shared' /dev/null)
tap_check "no C source cites a document outside the repository" test -z "$outside"
[ -z "$outside" ] || tap_diag "$outside"
tap_done
