#!/bin/sh
# Installs the Debian packages cmkguard builds and tests with, when any is missing.
set -eu
need=""
for pc in openssl:libssl-dev yaml-0.1:libyaml-dev rdkafka:librdkafka-dev \
          libpcre2-8:libpcre2-dev yajl:libyajl-dev sqlite3:libsqlite3-dev \
          libmicrohttpd:libmicrohttpd-dev; do
  mod=${pc%%:*}; pkg=${pc#*:}
  pkg-config --exists "$mod" 2>/dev/null || need="$need $pkg"
done
command -v pkg-config >/dev/null 2>&1 || need="$need pkg-config"
command -v kcat >/dev/null 2>&1 || need="$need kcat"
command -v openssl >/dev/null 2>&1 || need="$need openssl"
command -v cc >/dev/null 2>&1 || need="$need gcc"
command -v jq >/dev/null 2>&1 || need="$need jq"
command -v /usr/bin/time >/dev/null 2>&1 || need="$need time"
command -v sqlite3 >/dev/null 2>&1 || need="$need sqlite3"
command -v cppcheck >/dev/null 2>&1 || need="$need cppcheck"
command -v clang-format >/dev/null 2>&1 || need="$need clang-format"
command -v clang >/dev/null 2>&1 || need="$need clang"
command -v scan-build >/dev/null 2>&1 || need="$need clang-tools"
command -v promtool >/dev/null 2>&1 || need="$need prometheus"
command -v curl >/dev/null 2>&1 || need="$need curl"
command -v ss >/dev/null 2>&1 || need="$need iproute2"
# the tests check the rule schema, SARIF, JUnit and OCSF output with independent
# validators (Debian's Python with jsonschema, xmllint)
/usr/bin/python3 -c 'import jsonschema' >/dev/null 2>&1 || need="$need python3-jsonschema"
/usr/bin/python3 -c 'import yaml' >/dev/null 2>&1 || need="$need python3-yaml"
command -v xmllint >/dev/null 2>&1 || need="$need libxml2-utils"
# report tests render the page in a real browser, headless and offline.
command -v chromium >/dev/null 2>&1 || need="$need chromium"
# make model checks the scale-out protocol with the spin model checker.
command -v spin >/dev/null 2>&1 || need="$need spin"
[ -z "$need" ] && exit 0
echo "cmkguard: installing:$need" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $need >&2
