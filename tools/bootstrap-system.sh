#!/usr/bin/env bash
# Installs the Debian packages the tests and the demo use, only those missing.
# Idempotent: when everything is present it does nothing and makes no network call.
set -euo pipefail

PACKAGES=(
  # PC/SC stack: daemon, the virtual reader driver, OpenSC (independent JPKI client), tools
  pcscd vsmartcard-vpcd opensc opensc-pkcs11 pcsc-tools
  # to build pyscard (no Linux wheel): headers and swig; gcc comes with the image
  libpcsclite-dev swig gcc
  # network namespace for pcscd+vpcd, openssl to check signatures like a third party would
  iproute2 util-linux openssl
  # challenge store backend tests
  redis-server
  # browser tests of the demo
  chromium chromium-driver
  # Japanese text in the browser screenshots of the demo
  fonts-ipafont-gothic
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "bootstrap-system: missing Debian packages: ${missing[*]} (run as root, or install them)" >&2
  exit 1
fi
echo "bootstrap-system: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
# Debian starts pcscd through socket activation where systemd runs; tests start their own
# pcscd in a private network namespace, so a system one is neither needed nor touched.
