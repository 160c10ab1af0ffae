# prom_receiver.sh: a real Prometheus as a remote-write receiver for tests.
#
# Source it from bash (after tap.sh), then:
#   prom_receiver_start PORT   start Prometheus on 127.0.0.1:PORT with
#                              --web.enable-remote-write-receiver, nothing
#                              to scrape and its TSDB in $TEST_TMPDIR/tsdb
#                              (kept across restarts on the same port);
#                              sets PROM (its base URL) and PROM_PID, waits
#                              until it is ready; returns 1 (with the log's
#                              tail as a TAP diagnostic) when it is not
#   prom_receiver_stop         stop it by PID and wait for it
#
# Everything Prometheus then holds came through remote write.

PROM=
PROM_PID=

prom_receiver_start()
{
    local port=$1
    cat > "$TEST_TMPDIR/prometheus.yml" <<YAML
global:
  scrape_interval: 1h
scrape_configs: []
YAML
    prometheus --config.file="$TEST_TMPDIR/prometheus.yml" \
        --storage.tsdb.path="$TEST_TMPDIR/tsdb" \
        --web.listen-address="127.0.0.1:$port" \
        --web.enable-remote-write-receiver \
        >>"$TEST_TMPDIR/prometheus.log" 2>&1 &
    PROM_PID=$!
    PROM=http://127.0.0.1:$port
    local i
    for i in $(seq 100); do
        curl -sf "$PROM/-/ready" >/dev/null && return 0
        sleep 0.1
    done
    tap_diag "$(tail -5 "$TEST_TMPDIR/prometheus.log")"
    return 1
}

prom_receiver_stop()
{
    [ -n "$PROM_PID" ] || return 0
    kill "$PROM_PID" 2>/dev/null
    wait "$PROM_PID" 2>/dev/null
    PROM_PID=
}
