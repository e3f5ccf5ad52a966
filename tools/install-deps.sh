#!/usr/bin/env bash
# Installs the Debian 12 packages blockedge needs to build, test and benchmark.
# Idempotent: installs only what is missing (apt-get update first, then install -y).
set -euo pipefail

pkgs=(
    build-essential cmake pkg-config clang clang-format
    libevent-dev libnghttp2-dev libssl-dev libjemalloc-dev libcurl4-openssl-dev
    nginx-light curl wrk nghttp2-client python3 python3-h2
    prometheus
)

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#pkgs[@]} packages present"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing ${missing[*]}; run as root to install them" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing ${missing[*]}"
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
