#!/bin/bash
# influx_roundtrip.sh: start a real influxd, run influx_sink_test against
# it, stop it. The exit code is the test's.
#
#   tests/integration/influx_roundtrip.sh [PATH/TO/influx_sink_test [CASE]]
#
# The test binary defaults to $INFLUX_SINK_TEST or ./influx_sink_test.
# Skips (TAP "1..0 # SKIP") when influxd is not installed.
set -u
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/itest.sh"
test_bin=${1:-${INFLUX_SINK_TEST:-./influx_sink_test}}
shift $(($# > 0 ? 1 : 0))

it_need "${INFLUXD_BIN:-influxd}"
it_init influx

# Small enough that the test's uncompressed batch gets a 413; the test's
# case split_on_413 relies on it (and skips without INFLUX_MAX_BODY_SIZE).
export INFLUX_MAX_BODY_SIZE=65536
INFLUXD_MAX_BODY_SIZE=$INFLUX_MAX_BODY_SIZE it_influxd sink || it_bail "start influxd"

INFLUX_URL=$INFLUX_URL_sink "$test_bin" "$@"
