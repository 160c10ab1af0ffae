#!/usr/bin/env bash
# Installs the Debian 12 packages lagwatch needs, for one or more purposes:
#
#   scripts/deps.sh build   the toolchain and the libraries (scripts/build.sh)
#   scripts/deps.sh demo    build + what scripts/demo.sh starts: influxd,
#                           python3 (the fake Flink cluster), curl,
#                           prometheus (scraping the demo with the shipped
#                           alert rules)
#   scripts/deps.sh test    demo + what the test suite uses (scripts/test.sh):
#                           promtool, kcat, openssl, python3-yaml,
#                           chromium (headless: tests/integration/
#                           status_page.sh renders the status page),
#                           victoria-metrics (the InfluxDB v2 write API of
#                           tests/integration/influx_v2.sh and vmagent of
#                           bench/e2e.py), clang-format (make check-format),
#                           clang and libclang-rt-dev (scripts/fuzz.sh),
#                           npm (tests/integration/dashboards.sh validates the
#                           Grafana dashboards against @grafana/schema)
#
# Without an argument: test (everything). Only missing packages are
# installed, after an apt-get update. It never starts, stops or reconfigures
# a service: the tests and the demo start their own servers on free ports of
# 127.0.0.1, so an influxdb or prometheus service the packages enable (or
# that you run yourself) is left alone. systemd-analyze (package systemd),
# when present, lets the tests verify the unit file.
set -euo pipefail
build=(
    build-essential autoconf automake libtool pkg-config
    libcurl4-openssl-dev librdkafka-dev libmicrohttpd-dev libxxhash-dev
    libprotobuf-c-dev protobuf-c-compiler libyaml-dev libpcre2-dev libssl-dev
    zlib1g-dev libdeflate-dev libsnappy-dev libjansson-dev
)
demo=(influxdb influxdb-client python3 curl ca-certificates prometheus)
test=(kcat openssl python3-yaml victoria-metrics clang-format chromium
    clang libclang-rt-dev) # scripts/fuzz.sh: libFuzzer and the sanitizers
# A NodeSource nodejs brings its own npm: only ask for Debian's without one.
command -v npm >/dev/null || test+=(npm)

purposes=("$@")
[ ${#purposes[@]} -gt 0 ] || purposes=(test)
pkgs=()
for p in "${purposes[@]}"; do
    case $p in
    build) pkgs+=("${build[@]}") ;;
    demo) pkgs+=("${build[@]}" "${demo[@]}") ;;
    test) pkgs+=("${build[@]}" "${demo[@]}" "${test[@]}") ;;
    *)
        echo "usage: $0 [build|demo|test]..." >&2
        exit 2
        ;;
    esac
done

missing=()
for p in $(printf '%s\n' "${pkgs[@]}" | sort -u); do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    echo "deps.sh: installing ${missing[*]}" >&2
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y "${missing[@]}"
fi
