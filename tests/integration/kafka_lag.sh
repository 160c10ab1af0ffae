#!/usr/bin/env bash
# Kafka lag end to end: a mock cluster (3 brokers, 2 topics), messages with
# known timestamps, two groups whose slowest partition by time is not the
# one furthest behind in records, then `lagwatch lag` in JSON and table
# form, a group whose committed offset retention has passed (data loss),
# and finally the same command against the stopped cluster.
#
# Environment: LAGWATCH, KAFKA_MOCK_BROKER, KAFKA_SCENARIO (defaults in
# tests/lib/itest.sh: the build tree's binaries).
set -u
. "$(cd "$(dirname "$0")/../lib" && pwd)/itest.sh"
it_need lagwatch kafka
it_init kafka-lag
tmp=$T

pass() { tap_ok "$@"; }
# A failure ends the script (the plan goes last).
fail() { it_bail "$@"; }

it_broker --brokers 3 --topic t1:4 --topic t2:3 --topic t3:1 ||
    fail "mock broker did not start: $(cat "$tmp/broker.err")"

now=$(it_now_ms)
produce() { # topic partition count ts_start
    it_produce "$@" || fail "produce $1/$2"
}
# t1: partition 0 is old, partition 1 recent.
produce t1 0 20 $((now - 3600000))
produce t1 1 20 $((now - 600000))
produce t1 2 20 $((now - 100000))
produce t1 3 20 $((now - 50000))
produce t2 0 10 $((now - 7200000))
produce t2 1 30 $((now - 60000))
produce t2 2 10 $((now - 1000000))

# g1 on t1: p0 5 behind but oldest, p1 18 behind but recent, p2 caught up,
# p3 never committed (skipped).
it_scenario commit g1 t1 0 15 t1 1 2 t1 2 20 ||
    fail "commit g1"
# g2 on t2 likewise, and on t1 p1 at another offset than g1.
it_scenario commit g2 t2 0 9 t2 1 0 t2 2 10 t1 1 10 ||
    fail "commit g2"

"$LAGWATCH" lag --brokers "$B" --group g1 --group g2 --json \
    >"$tmp/lag.json" 2>"$tmp/lag.err" || fail "lag --json: $(cat "$tmp/lag.err")"

python3 - "$tmp/lag.json" "$now" <<'PY' || fail "JSON assertions"
import json, sys
doc = json.load(open(sys.argv[1]))
now = int(sys.argv[2])
(c,) = doc["clusters"]
assert c["name"] == "default" and c["stale"] is False, c
swept = c["swept_at_ms"]
assert now <= swept <= now + 60000, (now, swept)
groups = {g["group"]: g for g in c["groups"]}
assert list(groups) == ["g1", "g2"], list(groups)

def topic(g, t):
    (x,) = [x for x in groups[g]["topics"] if x["topic"] == t]
    return x

def check(g, t, max_lag, sum_lag, slowest, parts):
    x = topic(g, t)
    assert x["max_lag"] == max_lag, (g, t, x["max_lag"])
    assert x["sum_lag"] == sum_lag, (g, t, x["sum_lag"])
    assert x["slowest_partition"] == slowest, (g, t, x["slowest_partition"])
    assert x["ts_type"] == "CreateTime", x["ts_type"]
    got = {p["partition"]: p for p in x["partitions"]}
    assert sorted(got) == sorted(parts), (g, t, sorted(got))
    oldest = swept
    for pid, (committed, end, first_ts) in parts.items():
        p = got[pid]
        assert (p["committed"], p["end"]) == (committed, end), (g, t, p)
        assert p["lag"] == end - committed, p
        if first_ts is None:
            assert p["lag_seconds"] == 0, p
            continue
        oldest = min(oldest, first_ts)
        want = (swept - first_ts) / 1000.0
        assert abs(p["lag_seconds"] - want) < 0.0015, (p, want)
        # and the age relative to the test's own clock
        assert abs(p["lag_seconds"] - (now - first_ts) / 1000.0) < 60, p
    assert x["consumed_through_ms"] == oldest, (x["consumed_through_ms"], oldest)
    want_max = got[slowest]["lag_seconds"]
    assert x["max_lag_seconds"] == want_max, (x["max_lag_seconds"], want_max)

check("g1", "t1", 18, 23, 0, {
    0: (15, 20, now - 3600000 + 15000),
    1: (2, 20, now - 600000 + 2000),
    2: (20, 20, None)})
check("g2", "t2", 30, 31, 0, {
    0: (9, 10, now - 7200000 + 9000),
    1: (0, 30, now - 60000),
    2: (10, 10, None)})
check("g2", "t1", 10, 10, 1, {1: (10, 20, now - 600000 + 10000)})
assert [t["topic"] for t in groups["g1"]["topics"]] == ["t1"]
PY
pass "lag JSON"

"$LAGWATCH" lag --brokers "$B" --group g1 --group g2 >"$tmp/lag.txt" \
    2>"$tmp/lag.err" || fail "lag table: $(cat "$tmp/lag.err")"
grep -q '^GROUP  *TOPIC  *PARTITION  *COMMITTED  *END  *LAG  *LAG_SECONDS$' \
    "$tmp/lag.txt" || fail "table header"
grep -q '^# g1 t1: slowest partition 0 (' "$tmp/lag.txt" ||
    fail "g1 summary line: $(cat "$tmp/lag.txt")"
grep -q '^# g2 t2: slowest partition 0 (.*max lag 30, sum lag 31' \
    "$tmp/lag.txt" || fail "g2 summary line: $(cat "$tmp/lag.txt")"
pass "lag table"

# Data loss: the mock keeps at most 5 MiB per partition and deletes the
# oldest batches beyond that (as retention would); g3 committed offset 0
# of t3, below the new log start. Its first unconsumed message is then the
# earliest one left, so its time lag comes from that message's timestamp.
it_scenario produce t3 0 80 --ts-start $((now - 3600000)) \
    --ts-step 1000 --size 100000 || fail "produce t3"
it_scenario commit g3 t3 0 0 || fail "commit g3"
"$LAGWATCH" lag --brokers "$B" --group g3 --json >"$tmp/loss.json" \
    2>"$tmp/lag.err" || fail "lag g3: $(cat "$tmp/lag.err")"
python3 - "$tmp/loss.json" "$now" <<'PY' || fail "data loss assertions"
import json, sys
doc = json.load(open(sys.argv[1]))
now = int(sys.argv[2])
(c,) = doc["clusters"]
(g,) = c["groups"]
(t,) = g["topics"]
(p,) = t["partitions"]
assert p["committed"] == 0 and p["end"] == 80 and p["lag"] == 80, p
assert p["data_loss"] is True, p
earliest = p["lost_records"]
assert 0 < earliest < 80, p
assert t["data_loss_partitions"] == 1, t
first_ts = now - 3600000 + earliest * 1000
assert p["first_unconsumed_ts_ms"] == first_ts, (p, first_ts)
want = (c["swept_at_ms"] - first_ts) / 1000.0
assert abs(p["lag_seconds"] - want) < 0.0015, (p, want)
assert t["consumed_through_ms"] == first_ts, t
PY
"$LAGWATCH" lag --brokers "$B" --group g3 >"$tmp/loss.txt" 2>&1 ||
    fail "lag g3 table"
grep -q ' DATA LOSS$' "$tmp/loss.txt" || fail "table: $(cat "$tmp/loss.txt")"
pass "data loss: committed offset below the log start"

"$LAGWATCH" lag --brokers "$B" --group nope >"$tmp/usage.out" 2>&1 ||
    fail "unknown group must not be an error"
"$LAGWATCH" lag --group g1 >/dev/null 2>&1 && fail "usage must fail"
rc=0
"$LAGWATCH" lag --group g1 >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "usage exit code $rc"
pass "usage"

it_stop "$broker"
broker=
rc=0
"$LAGWATCH" lag --brokers "$B" --group g1 --timeout 3000 \
    >"$tmp/down.out" 2>"$tmp/down.err" || rc=$?
[ "$rc" -eq 1 ] || fail "lag against a stopped cluster exited $rc"
first=${B%%,*}
grep -q "$first" "$tmp/down.err" ||
    fail "error does not name the brokers: $(cat "$tmp/down.err")"
pass "unreachable cluster"
tap_done
