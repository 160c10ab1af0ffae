#!/usr/bin/env bash
# Installs everything lagwatch needs to build, test and run its demo on
# Debian 12: the toolchain, the libraries, and the real servers the tests
# start (influxd, prometheus/promtool), plus kcat and python3 for test tools.
# systemd-analyze (package systemd), when present, verifies the unit.
set -euo pipefail
pkgs=(
    build-essential autoconf automake libtool pkg-config
    libcurl4-openssl-dev librdkafka-dev libmicrohttpd-dev libxxhash-dev
    libprotobuf-c-dev protobuf-c-compiler libyaml-dev libpcre2-dev libssl-dev
    zlib1g-dev libsnappy-dev libjansson-dev
    influxdb influxdb-client prometheus kcat
    python3 curl ca-certificates
    openssl python3-yaml  # TLS certificates and YAML checks in the tests
    clang libclang-rt-dev # scripts/fuzz.sh: libFuzzer and the sanitizers
)
# npm: tests/integration/dashboards.sh validates the Grafana dashboards
# against @grafana/schema (a NodeSource nodejs brings its own npm).
command -v npm >/dev/null || pkgs+=(npm)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y "${missing[@]}"
fi
# Debian's packages enable services that the tests do not want running on
# their default ports; the tests start their own instances on free ports.
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    for s in influxdb prometheus; do
        systemctl stop "$s" 2>/dev/null || true
    done
fi
