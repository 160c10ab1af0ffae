#!/usr/bin/env bash
# Builds lagwatch in BUILD_DIR (default ./build) with the given configure
# flags (default --enable-werror). Re-runs autoreconf only when needed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
cd "$top"
if [ ! -x configure ] || [ configure.ac -nt configure ] ||
   [ Makefile.am -nt configure ]; then
    autoreconf -fi >/dev/null
fi
# automake cannot build out of a source tree that was configured in place
# (README, Building): say how to get out of it instead of its own error.
if [ -f "$top/config.status" ] && [ "$(cd "$build" 2>/dev/null && pwd)" != "$top" ]; then
    echo "error: $top was configured in the source tree (./configure);" \
        "run 'make distclean' there first, then build in $build" >&2
    exit 1
fi
mkdir -p "$build"
cd "$build"
flags=("$@")
[ ${#flags[@]} -gt 0 ] || flags=(--enable-werror)
if [ ! -f Makefile ] || [ "$(cat .flags 2>/dev/null)" != "${flags[*]}" ]; then
    "$top/configure" "${flags[@]}" >/dev/null
    echo "${flags[*]}" > .flags
fi
make -j"$(nproc)" >/dev/null
echo "$build/lagwatch"
