#!/usr/bin/env bash
# `make install DESTDIR=...` from the build directory puts the binary, the
# man pages, the default configuration and the systemd unit (with the
# install paths substituted, and valid for systemd-analyze when present)
# where they belong; the installed binary runs and accepts the shipped
# configuration's syntax.
set -u
. "$(cd "$(dirname "$0")/../lib" && pwd)/itest.sh"

[ -f "$builddir/Makefile" ] || tap_skip_all "no Makefile in $builddir"
MAKE_CMD=${MAKE:-make}
it_init install

prefix=$(sed -n 's/^prefix = //p' "$builddir/Makefile")
sysconfdir=$(sed -n 's/^sysconfdir = //p' "$builddir/Makefile")
sysconfdir=${sysconfdir//\$\{prefix\}/$prefix}
# A serial make of its own: the outer make's jobserver is not ours.
MAKEFLAGS= MFLAGS= $MAKE_CMD -C "$builddir" install DESTDIR="$T/root" \
    >"$T/install.log" 2>&1
rc=$?
tap_check "make install DESTDIR=... succeeds" test "$rc" -eq 0
[ "$rc" -eq 0 ] || tap_diag "$(tail -n 20 "$T/install.log")"
R=$T/root
for f in "$prefix/bin/lagwatch" \
    "$prefix/share/man/man8/lagwatch.8" \
    "$prefix/share/man/man5/lagwatch.yml.5" \
    "$sysconfdir/lagwatch/lagwatch.yml" \
    "$prefix/lib/systemd/system/lagwatch.service"; do
    tap_check "installed $f" test -s "$R$f"
done
tap_check "the installed binary is executable and runs" \
    sh -c '"$1" --version >/dev/null' _ "$R$prefix/bin/lagwatch"
unit=$R$prefix/lib/systemd/system/lagwatch.service
tap_check "the unit runs the installed binary with the installed config" \
    grep -qxF "ExecStart=$prefix/bin/lagwatch run -c $sysconfdir/lagwatch/lagwatch.yml" "$unit"
tap_check "the unit has no unsubstituted @...@" sh -c '! grep -q "@[a-z]*@" "$1"' _ "$unit"
for k in Type=notify WatchdogSec= "ExecReload=/bin/kill -HUP \$MAINPID" \
    ProtectSystem=strict StateDirectory=lagwatch DynamicUser=yes; do
    tap_check "the unit sets $k" grep -qF "$k" "$unit"
done
if command -v systemd-analyze >/dev/null; then
    # verify checks that ExecStart exists: point it at the DESTDIR copy;
    # the man pages of Documentation= are not installed system-wide.
    mkdir -p "$T/units"
    sed "s|^ExecStart=$prefix/bin/lagwatch|ExecStart=$R$prefix/bin/lagwatch|" \
        "$unit" > "$T/units/lagwatch.service"
    if systemd-analyze verify --man=no "$T/units/lagwatch.service" >"$T/verify.out" 2>&1; then
        tap_ok "systemd-analyze verify accepts the unit"
    elif grep -qiE "no such file|failed to (connect|initialize)|not booted|Operation not permitted|permission denied" "$T/verify.out"; then
        tap_ok "# SKIP systemd-analyze cannot run here: $(head -n 1 "$T/verify.out")"
    else
        tap_not_ok "systemd-analyze verify accepts the unit"
        tap_diag "$(cat "$T/verify.out")"
    fi
else
    tap_ok "# SKIP systemd-analyze not installed"
fi
if [ -f "$srcdir/rules/lagwatch.rules.yml" ]; then
    tap_check "installed the alert rules" \
        test -s "$R$prefix/share/lagwatch/rules/lagwatch.rules.yml"
fi
# The shipped YAML files parse (python3-yaml); the Kubernetes manifests
# carry the objects they promise and their embedded configuration is one
# lagwatch accepts.
if python3 -c 'import yaml' 2>/dev/null; then
    tap_check "the Kubernetes manifests parse and hold the expected objects" \
        python3 - "$srcdir/deploy/kubernetes" "$T" <<'PY'
import os, sys, yaml
d, out = sys.argv[1], sys.argv[2]
want = {
    "taskmanager-sidecar.yaml": ["ConfigMap", "Deployment"],
    "jobmanager-deployment.yaml": ["ConfigMap", "Deployment", "Service"],
}
for name, kinds in want.items():
    docs = [x for x in yaml.safe_load_all(open(os.path.join(d, name))) if x]
    assert [x["kind"] for x in docs] == kinds, (name, kinds)
    for x in docs:
        if x["kind"] == "ConfigMap":
            cfg = x["data"]["lagwatch.yml"]
            yaml.safe_load(cfg)
            with open(os.path.join(out, name + ".lagwatch.yml"), "w") as f:
                f.write(cfg)
        if x["kind"] == "Deployment":
            pod = x["spec"]["template"]
            ann = pod["metadata"]["annotations"]
            assert ann["prometheus.io/scrape"] == "true", name
            assert ann["prometheus.io/port"] == "9743", name
            lw = [c for c in pod["spec"]["containers"] if c["name"] == "lagwatch"]
            assert len(lw) == 1, name
            c = lw[0]
            assert c["livenessProbe"]["httpGet"]["path"] == "/healthz", name
            assert c["readinessProbe"]["httpGet"]["path"] == "/readyz", name
PY
    tap_check "deploy/lagwatch.yml parses" \
        python3 -c 'import sys, yaml; yaml.safe_load(open(sys.argv[1]))' \
        "$srcdir/deploy/lagwatch.yml"
    echo secret > "$T/password"
    for f in "$T"/*.lagwatch.yml; do
        [ -f "$f" ] || continue
        sed -i "s|/etc/lagwatch-secret/password|$T/password|" "$f"
        POD_NAME=pod-1 FLINK_TM_HOST=10.0.0.7 FLINK_JM_HOST=jm \
            KAFKA_BOOTSTRAP=kafka:9092 \
            "$R$prefix/bin/lagwatch" check -c "$f" >"$T/check.out" 2>&1
        rc=$?
        tap_check "lagwatch check accepts the ConfigMap of $(basename "$f" .lagwatch.yml)" \
            test "$rc" -eq 0
        [ "$rc" -eq 0 ] || tap_diag "$(tail -n 5 "$T/check.out")"
    done
else
    tap_ok "# SKIP python3-yaml not installed"
fi
tap_done
