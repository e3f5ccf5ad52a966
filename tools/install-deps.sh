#!/usr/bin/env bash
# Installs the Debian 12 packages blockedge needs to build, test and benchmark.
# Idempotent: installs only what is missing (apt-get update first, then install -y).
set -euo pipefail

pkgs=(
    build-essential cmake pkg-config clang clang-format
    libevent-dev libnghttp2-dev libssl-dev libjemalloc-dev libcurl4-openssl-dev
    nginx-light curl wrk nghttp2-client python3 python3-h2 python3-hyperframe python3-yaml openssl
    swift-proxy swift-object swift-container swift-account memcached prometheus
    systemd logrotate iproute2 slowhttptest haproxy
    dpkg-dev lintian man-db groff-base adduser
)

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
# HTTP/2: the library must carry the Rapid Reset (CVE-2023-44487) and CONTINUATION flood
# (CVE-2024-28182) fixes, which Debian 12 ships from 1.52.0-1+deb12u3 on.
nghttp2_min=1.52.0-1+deb12u3
nghttp2_have=$(dpkg-query -W -f='${Version}' libnghttp2-14 2>/dev/null || true)
if [ -z "$nghttp2_have" ] || ! dpkg --compare-versions "$nghttp2_have" ge "$nghttp2_min"; then
    missing+=(libnghttp2-14)
fi
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
# The cluster tests start their own haproxy processes on free ports: the packaged service is
# not needed, so one that apt just started under systemd is stopped and disabled.
if [[ " ${missing[*]} " == *" haproxy "* ]] && [ -d /run/systemd/system ]; then
    systemctl disable --now haproxy.service >/dev/null 2>&1 || true
fi
nghttp2_have=$(dpkg-query -W -f='${Version}' libnghttp2-14)
if ! dpkg --compare-versions "$nghttp2_have" ge "$nghttp2_min"; then
    echo "install-deps: libnghttp2-14 $nghttp2_have is older than $nghttp2_min" >&2
    exit 1
fi
