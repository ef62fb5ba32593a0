#!/usr/bin/env bash
# The integration tests drive the mesh with real clients (openssl, curl) and
# ship audit events to a real syslog receiver (rsyslogd with its OpenSSL TLS
# driver). Install them from Debian's packages when they are missing; do
# nothing otherwise.
set -euo pipefail
need=()
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v curl >/dev/null 2>&1 || need+=(curl)
# rsyslogd lives in /usr/sbin, which is not on every user's PATH.
if ! command -v rsyslogd >/dev/null 2>&1 && [ ! -x /usr/sbin/rsyslogd ]; then need+=(rsyslog); fi
# The TLS network stream driver (imtcp StreamDriver.Name="ossl") is a separate package.
if ! compgen -G "/usr/lib/*/rsyslog/lmnsd_ossl.so" >/dev/null && ! compgen -G "/usr/lib/rsyslog/lmnsd_ossl.so" >/dev/null; then
  need+=(rsyslog-openssl)
fi
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null 2>&1; then
  echo "install-test-tools: missing ${need[*]} and not root; install them with apt-get" >&2
  exit 1
fi
SUDO=""; [ "$(id -u)" != 0 ] && SUDO=sudo
$SUDO apt-get update -qq
# The tests start their own rsyslogd on a loopback port; the package's system
# service is not needed (inside a container it is usually not started anyway).
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
