#!/usr/bin/env bash
# The HTTP endpoint's limits and security, against a running `lagwatch run`:
# bad secret files fail `lagwatch check` (exit 2, naming the file); bearer
# token and basic auth (401 without, 200 with; a rotated token takes effect
# on SIGHUP; a reload with a missing token file is rejected); secrets never
# reach the log; a burst of 200 requests plus 20 clients that send half a
# request and stall, while a normal client keeps getting /metrics within
# 1 s; agent.max_connections is enforced; HTTPS with a self-signed
# certificate made here with openssl (skipped without it).
set -u
. "$(cd "$(dirname "$0")/../lib" && pwd)/itest.sh"
it_need lagwatch curl
it_init epsec

it_fakeflink || it_bail "fake flink up"
it_listen
dead=$(free_port) # nothing listens: the InfluxDB writes fail, which is fine
TOKEN=tok-$RANDOM-s3cr3t-$RANDOM
TOKEN2=tok2-$RANDOM-r0tated-$RANDOM
PASS="pa ss-$RANDOM-w0rd"
printf '%s\n' "$TOKEN" > "$T/token"
printf '%s\r\n' "$PASS" > "$T/basic.pass"
: > "$T/empty"
chmod 600 "$T/token" "$T/basic.pass"

# write_config FILE [agent lines...]
write_config() {
    local f=$1
    shift
    {
        printf 'agent:\n  name: epsec\n  interval: 1s\n'
        printf '  listen: 127.0.0.1:%s\n  shutdown_timeout: 1s\n' "$lport"
        printf '  spool_dir: %s/spool\n' "$T"
        for l in "$@"; do printf '  %s\n' "$l"; done
        it_yaml_flink tm1
        it_yaml_dead_influxdb 500ms "$dead"
    } > "$f"
}

# check_fails DESC WANT-IN-MESSAGE agent-lines...
check_fails() {
    local desc=$1 want=$2
    shift 2
    write_config "$T/bad.yml" "$@"
    "$LAGWATCH" check -c "$T/bad.yml" >"$T/check.out" 2>&1
    local rc=$?
    if [ "$rc" -eq 2 ] && grep -qF -- "$want" "$T/check.out"; then
        tap_ok "check rejects $desc"
    else
        tap_not_ok "check rejects $desc (exit $rc)"
        tap_diag "$(cat "$T/check.out")"
    fi
}
check_fails "a missing bearer token file" \
    "cannot read bearer token file '$T/nope'" "bearer_token_file: $T/nope"
check_fails "an empty bearer token file" \
    "bearer token file '$T/empty' is empty" "bearer_token_file: $T/empty"
printf 'two words\n' > "$T/spaced"
check_fails "a token with a space" "bearer token file '$T/spaced'" \
    "bearer_token_file: $T/spaced"
check_fails "basic_auth_user without a password file" \
    "must be set together" "basic_auth_user: prom"
check_fails "a missing basic auth password file" \
    "cannot read basic auth password file '$T/nope'" "basic_auth_user: prom" \
    "basic_auth_password_file: $T/nope"
check_fails "a TLS certificate without a key" "must be set together" \
    "tls_cert_file: $T/token"
check_fails "a TLS certificate that is not PEM" \
    "TLS certificate file '$T/token' is not a PEM file" \
    "tls_cert_file: $T/token" "tls_key_file: $T/token"

cfg=$T/lagwatch.yml
write_config "$cfg" "bearer_token_file: $T/token" "basic_auth_user: prom" \
    "basic_auth_password_file: $T/basic.pass" "max_connections: 128"
"$LAGWATCH" check -c "$cfg" >"$T/check.out" 2>&1
tap_check "check accepts the auth configuration" test $? -eq 0
tap_check "check prints no secret" \
    sh -c '! grep -qF -e "$1" -e "$2" "$3"' _ "$TOKEN" "$PASS" "$T/check.out"

it_lagwatch "$cfg" "$T/lagwatch.log"
code() { curl -s -o /dev/null -m 5 -w '%{http_code}' "$@"; }
tap_check "ready with the bearer token" it_ready 10 -H "Authorization: Bearer $TOKEN"
tap_check "no credentials: 401" test "$(code "$base/metrics")" = 401
tap_check "/healthz is guarded too: 401" test "$(code "$base/healthz")" = 401
curl -s -D "$T/h401" -o /dev/null "$base/metrics"
tap_check "401 carries WWW-Authenticate" grep -qi '^WWW-Authenticate:' "$T/h401"
tap_check "wrong token: 401" \
    test "$(code -H "Authorization: Bearer x$TOKEN" "$base/metrics")" = 401
tap_check "bearer token (trailing newline stripped): 200" \
    test "$(code -H "Authorization: Bearer $TOKEN" "$base/metrics")" = 200
tap_check "basic auth (trailing CRLF stripped): 200" \
    test "$(code -u "prom:$PASS" "$base/metrics")" = 200
tap_check "basic auth, wrong password: 401" \
    test "$(code -u "prom:x$PASS" "$base/metrics")" = 401
tap_check "basic auth, wrong user: 401" \
    test "$(code -u "other:$PASS" "$base/metrics")" = 401

# A burst: 200 requests, 50 at a time, and 20 clients that send half a
# request and stall for 4 s, while a normal client polls /metrics.
cat > "$T/stall.py" <<'PY'
import socket, sys, time
port, n, hold = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
socks = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthor")
    socks.append(s)
print("stalling", flush=True)
time.sleep(hold)
for s in socks:
    s.close()
PY
it_bg stall python3 "$T/stall.py" "$lport" 20 4 >"$T/stall.out" 2>&1
wait_for_file "$T/stall.out" 5
seq 200 | xargs -P 50 -I{} curl -s -o /dev/null -m 10 -w '%{http_code}\n' \
    -H "Authorization: Bearer $TOKEN" "$base/metrics" > "$T/burst.codes" &
burst=$!
slow=0
polls=0
for i in $(seq 15); do
    r=$(curl -s -o /dev/null -m 1 -w '%{http_code} %{time_total}' \
        -H "Authorization: Bearer $TOKEN" "$base/metrics")
    polls=$((polls + 1))
    case $r in
    "200 "*) ;;
    *) slow=$((slow + 1)); tap_diag "poll $i: $r" ;;
    esac
    sleep 0.1
done
wait "$burst"
tap_check "a normal client got /metrics within 1 s $polls times during the burst" \
    test "$slow" -eq 0
n200=$(grep -c '^200$' "$T/burst.codes")
tap_check "all 200 burst requests answered 200 (got $n200)" test "$n200" -eq 200
tap_check "the stalling clients connected" grep -q stalling "$T/stall.out"
wait "$stall"

# Token rotation on SIGHUP.
printf '%s\n' "$TOKEN2" > "$T/token"
kill -HUP "$lw"
ok=
for i in $(seq 50); do
    [ "$(code -H "Authorization: Bearer $TOKEN2" "$base/metrics")" = 200 ] && { ok=1; break; }
    sleep 0.1
done
tap_check "a rotated token works after SIGHUP" test -n "$ok"
tap_check "the old token is refused after the rotation" \
    test "$(code -H "Authorization: Bearer $TOKEN" "$base/metrics")" = 401

# A reload whose token file is gone is rejected; the endpoint keeps its
# settings.
mv "$T/token" "$T/token.away"
kill -HUP "$lw"
for i in $(seq 50); do
    grep -q "reload of '$cfg' rejected" "$T/lagwatch.log" && break
    sleep 0.1
done
tap_check "a reload with a missing token file is rejected" \
    grep -q "cannot read bearer token file '$T/token'" "$T/lagwatch.log"
tap_check "the running token still works" \
    test "$(code -H "Authorization: Bearer $TOKEN2" "$base/metrics")" = 200
mv "$T/token.away" "$T/token"

# agent.max_connections: 4 stalled connections fill a cap of 4, so a
# fifth client gets nothing; once they go, it is served again.
write_config "$cfg" "max_connections: 4"
kill -HUP "$lw"
ok=
for i in $(seq 50); do
    [ "$(code "$base/metrics")" = 200 ] && { ok=1; break; }
    sleep 0.1
done
tap_check "reload to no auth and max_connections 4" test -n "$ok"
rm -f "$T/stall.out"
it_bg stall python3 "$T/stall.py" "$lport" 6 3 >"$T/stall.out" 2>&1
wait_for_file "$T/stall.out" 5
sleep 0.3
tap_check "over max_connections a client is not served" \
    test "$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$base/metrics")" != 200
wait "$stall"
ok=
for i in $(seq 30); do
    [ "$(code -m 1 "$base/metrics")" = 200 ] && { ok=1; break; }
    sleep 0.1
done
tap_check "served again once the stalled clients are gone" test -n "$ok"

# HTTPS with a certificate made here.
if command -v openssl >/dev/null; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
        -addext subjectAltName=IP:127.0.0.1 -keyout "$T/tls.key" \
        -out "$T/tls.crt" >/dev/null 2>&1
    write_config "$cfg" "tls_cert_file: $T/tls.crt" "tls_key_file: $T/tls.key" \
        "bearer_token_file: $T/token"
    kill -HUP "$lw"
    ok=
    for i in $(seq 50); do
        [ "$(code --cacert "$T/tls.crt" -H "Authorization: Bearer $TOKEN2" \
            "https://127.0.0.1:$lport/metrics")" = 200 ] && { ok=1; break; }
        sleep 0.1
    done
    tap_check "HTTPS with the self-signed certificate and the token: 200" \
        test -n "$ok"
    tap_check "HTTPS without the token: 401" \
        test "$(code --cacert "$T/tls.crt" "https://127.0.0.1:$lport/metrics")" = 401
    tap_check "plain HTTP on the TLS port is not served" \
        test "$(code "$base/metrics")" != 200
    tap_check "an unknown CA is refused by the client" \
        test "$(code "https://127.0.0.1:$lport/metrics")" = 000
else
    tap_ok "# SKIP openssl not installed"
fi

tap_check "the log holds no secret" \
    sh -c '! grep -qF -e "$1" -e "$2" -e "$3" "$4"' _ "$TOKEN" "$TOKEN2" "$PASS" \
    "$T/lagwatch.log"
it_lagwatch_stop TERM
tap_check "SIGTERM: exit status is 0 or 1 (node down), not a crash ($lw_rc)" \
    test "$lw_rc" -le 1
if [ "$TAP_FAILED" -gt 0 ]; then
    tap_diag "lagwatch log (tail):" "$(tail -n 30 "$T/lagwatch.log")"
fi
tap_done
