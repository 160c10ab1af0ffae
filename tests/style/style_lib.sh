# style_lib.sh: what the style checks share (sourced): the C sources of the
# project, found on disk so that the checks also run in a release tarball
# (make distcheck), where there is no git.
srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$srcdir/tests/lib/tap.sh"

# c_sources: every hand-written C file, relative to srcdir, one a line.
# protoc-c output (*.pb-c.[ch]) is generated and not ours to format.
c_sources() {
    (cd "$srcdir" && find agent sinks hashring tests bench \
        -name '*.[ch]' ! -name '*.pb-c.[ch]' 2>/dev/null | LC_ALL=C sort)
}
