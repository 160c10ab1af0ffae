#!/bin/bash
# influx_roundtrip.sh: start a real influxd, run influx_sink_test against
# it, stop it. The exit code is the test's.
#
#   tests/integration/influx_roundtrip.sh [PATH/TO/influx_sink_test [CASE]]
#
# The test binary defaults to $INFLUX_SINK_TEST or ./influx_sink_test.
# Exits 77 (automake SKIP) when influxd is not installed.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
test_bin=${1:-${INFLUX_SINK_TEST:-./influx_sink_test}}
shift $(($# > 0 ? 1 : 0))

if ! command -v "${INFLUXD_BIN:-influxd}" > /dev/null; then
    echo "1..0 # SKIP influxd not installed"
    exit 77
fi

export TEST_TMPDIR
TEST_TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/lagwatch-influx.XXXXXX") || exit 1
# shellcheck source=../lib/influxd.sh
source "$here/../lib/influxd.sh"
cleanup()
{
    influxd_stop_all
    rm -rf "$TEST_TMPDIR"
}
trap cleanup EXIT

# Small enough that the test's uncompressed batch gets a 413.
INFLUXD_MAX_BODY_SIZE=65536 influxd_start sink > /dev/null || exit 1

INFLUX_URL=$INFLUX_URL_sink "$test_bin" "$@"
