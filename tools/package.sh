#!/usr/bin/env bash
# package.sh BUILD_DIR - builds the Debian package and proves it on this machine: its contents
# (files, conffiles, Depends), its manual pages (no roff warnings), dpkg -i, the packaged
# config passing -t, a node started as the blockedge user that serves a block from a file://
# origin, a SIGTERM drain that exits 0, and dpkg --purge removing the user, /etc/blockedge,
# /var/cache/blockedge and /var/log/blockedge. The machine is left as it was found: the
# package is purged at the end and on any failure (trap).
#
# Needs root and dpkg; exits 77 (ctest: skipped) without them. Refuses to run when blockedge is
# already installed or its user exists: those are the operator's, not this test's.
set -euo pipefail

BUILD=$(cd "${1:?usage: package.sh BUILD_DIR}" && pwd)
say() { echo "package: $*"; }
fail() {
    echo "FAIL [package]: $*" >&2
    exit 1
}

if [ "$(id -u)" -ne 0 ]; then
    say "SKIP: needs root (dpkg -i, a system user)"
    exit 77
fi
if ! command -v dpkg >/dev/null || ! command -v dpkg-deb >/dev/null; then
    say "SKIP: needs dpkg and dpkg-deb"
    exit 77
fi
if dpkg-query -W -f='${Status}' blockedge 2>/dev/null | grep -q installed; then
    fail "a blockedge package is already installed here; not touching it"
fi
if getent passwd blockedge >/dev/null || [ -e /etc/blockedge ]; then
    fail "the blockedge user or /etc/blockedge exists already; not touching them"
fi

T=$(mktemp -d /tmp/blockedge-package.XXXXXX)
chmod 755 "$T"
PID=
INSTALLED=0
cleanup() {
    rc=$?
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
        kill -KILL "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    if [ "$INSTALLED" = 1 ]; then
        dpkg --purge blockedge >"$T/purge-trap.log" 2>&1 || cat "$T/purge-trap.log" >&2
    fi
    if [ "$rc" -ne 0 ] && [ -f "$T/server.log" ]; then
        echo "--- server log" >&2
        tail -n 30 "$T/server.log" >&2
    fi
    rm -rf "$T"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- build -------------------------------------------------------------------------------
t0=$(date +%s)
cmake --build "$BUILD" --target package -j2 >"$T/build.log" 2>&1 || {
    tail -n 30 "$T/build.log" >&2
    fail "cmake --build --target package failed"
}
# shellcheck disable=SC2012
DEB=$(ls -t "$BUILD"/blockedge_*_*.deb | head -n 1)
[ -f "$DEB" ] || fail "no blockedge_*.deb in $BUILD"
say "built $(basename "$DEB") in $(($(date +%s) - t0)) s"

# --- manual pages: generated in the build tree, render without a warning ----------------
for page in "$BUILD/man/blockedge.8" "$BUILD/man/blockedge.conf.5"; do
    [ -s "$page" ] || fail "$page was not generated"
    w=$(groff -man -ww -z "$page" 2>&1)
    [ -z "$w" ] || fail "groff warns on $page: $w"
    w=$(MANWIDTH=80 man --warnings=all -l "$page" 2>&1 >/dev/null)
    [ -z "$w" ] || fail "man --warnings on $page: $w"
done
# Every directive and every option is in its page.
"$BUILD/blockedge" -T | awk 'NR > 1 { print $1 }' | sort -u >"$T/directives"
while read -r d; do
    grep -q "^\.BR \"$d\"" "$BUILD/man/blockedge.conf.5" || fail "blockedge.conf(5) lacks $d"
done <"$T/directives"
for o in c t s T M v h; do
    grep -q "^\.B \\\\-$o" "$BUILD/man/blockedge.8" || fail "blockedge(8) lacks -$o"
done
say "man pages: $(wc -l <"$T/directives") directives, 7 options, no warnings"

# --- contents ----------------------------------------------------------------------------
dpkg-deb -c "$DEB" | awk '{ print $6 }' | sed 's#^\./#/#' >"$T/files"
for f in /usr/sbin/blockedge /etc/blockedge/blockedge.conf /etc/logrotate.d/blockedge \
    /lib/systemd/system/blockedge.service /lib/systemd/system/blockedge.socket \
    /usr/bin/blockedge-top /usr/bin/blockedge-plot /usr/bin/blockedge-sign \
    /usr/share/man/man8/blockedge.8.gz /usr/share/man/man5/blockedge.conf.5.gz \
    /usr/share/doc/blockedge/copyright; do
    grep -qx "$f" "$T/files" || fail "$f is not in the package"
done
dpkg-deb -I "$DEB" conffiles >"$T/conffiles"
grep -qx /etc/blockedge/blockedge.conf "$T/conffiles" || fail "blockedge.conf is not a conffile"
grep -qx /etc/logrotate.d/blockedge "$T/conffiles" || fail "the logrotate file is not a conffile"
depends=$(dpkg-deb -f "$DEB" Depends)
for lib in adduser python3 libc6 libevent-core libevent-openssl libevent-pthreads \
    libnghttp2-14 libssl3 libcurl4; do
    echo "$depends" | grep -q "$lib" || fail "Depends lacks $lib: $depends"
done
say "contents: $(wc -l <"$T/files") entries, 2 conffiles; Depends: $depends"

# --- install -----------------------------------------------------------------------------
INSTALLED=1
dpkg -i "$DEB" >"$T/install.log" 2>&1 || {
    cat "$T/install.log" >&2
    fail "dpkg -i failed"
}
getent passwd blockedge >/dev/null || fail "postinst did not create the blockedge user"
[ "$(stat -c %U "/var/cache/blockedge")" = blockedge ] || fail "/var/cache/blockedge not blockedge's"
/usr/sbin/blockedge -t -c /etc/blockedge/blockedge.conf >"$T/t.log" 2>&1 || {
    cat "$T/t.log" >&2
    fail "the packaged blockedge.conf does not pass -t"
}
w=$(MANWIDTH=80 man --warnings=all blockedge.conf 2>&1 >/dev/null)
[ -z "$w" ] || fail "installed blockedge.conf(5) warns: $w"
say "installed; the packaged config passes -t"

# --- run as the blockedge user on a copy of the packaged config --------------------------
mkdir -p "$T/origin"
"$BUILD/blockgen" -q -d "$T/origin" -n 1 -s 64k --seed 16
key=$(head -n 1 "$T/origin/keys.txt")
chmod -R a+rX "$T/origin"
port=$(free_port)
admin=$(free_port)
while [ "$admin" = "$port" ]; do admin=$(free_port); done
sed -e "s#^    listen 127.0.0.1:8480;#    listen 127.0.0.1:$port;#" \
    -e "s#^    listen 127.0.0.1:8481;#    listen 127.0.0.1:$admin;#" \
    -e "s#^    server file:///var/tmp/blockedge/origin/;#    server file://$T/origin/;#" \
    -e "s#^worker_threads auto;#worker_threads 1;#" \
    -e "s#^    \# disk_path /var/cache/blockedge;#    disk_path /var/cache/blockedge;#" \
    -e "s#^    \# disk_size 100g;#    disk_size 8m;#" \
    -e "s#^    \# disk_segment_size 256m;#    disk_segment_size 1m;#" \
    /etc/blockedge/blockedge.conf >"$T/blockedge.conf"
for want in "listen 127.0.0.1:$port;" "listen 127.0.0.1:$admin;" "server file://$T/origin/;" \
    "disk_path /var/cache/blockedge;"; do
    grep -qF "    $want" "$T/blockedge.conf" || fail "the config copy lacks \"$want\""
done
chmod 644 "$T/blockedge.conf"
setpriv --reuid=blockedge --regid=blockedge --init-groups \
    /usr/sbin/blockedge -c "$T/blockedge.conf" >"$T/server.log" 2>&1 &
PID=$!
up=0
for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$admin/healthz" >/dev/null 2>&1; then
        up=1
        break
    fi
    kill -0 "$PID" 2>/dev/null || fail "blockedge exited at start-up"
    sleep 0.1
done
[ "$up" = 1 ] || fail "blockedge did not answer /healthz on 127.0.0.1:$admin"
[ "$(ps -o user= -p "$PID" | tr -d ' ')" = blockedge ] || fail "blockedge does not run as blockedge"
curl -fsS -o "$T/got" "http://127.0.0.1:$port/blocks/$key" || fail "GET /blocks/$key failed"
[ "$(sha256sum "$T/got" | cut -d' ' -f1)" = "$key" ] || fail "the block's sha256 is not its key"
curl -fsS -o "$T/got2" "http://127.0.0.1:$port/blocks/$key" || fail "second GET failed"
cmp -s "$T/got" "$T/got2" || fail "the hit differs from the miss"
kill -TERM "$PID"
rc=0
wait "$PID" || rc=$?
PID=
[ "$rc" = 0 ] || fail "blockedge exited $rc on SIGTERM"
segs=$(find /var/cache/blockedge -name '*.seg' -user blockedge | wc -l)
[ "$segs" -ge 1 ] || fail "no disk tier segment of the blockedge user in /var/cache/blockedge"
say "ran as blockedge on 127.0.0.1:$port, served $key (sha256 ok), exited 0 on SIGTERM, $segs segment(s) in /var/cache/blockedge"

# --- purge -------------------------------------------------------------------------------
dpkg --purge blockedge >"$T/purge.log" 2>&1 || {
    cat "$T/purge.log" >&2
    fail "dpkg --purge failed"
}
INSTALLED=0
! getent passwd blockedge >/dev/null || fail "purge left the blockedge user"
! getent group blockedge >/dev/null || fail "purge left the blockedge group"
for p in /etc/blockedge /var/cache/blockedge /var/log/blockedge /usr/sbin/blockedge \
    /lib/systemd/system/blockedge.service /etc/logrotate.d/blockedge; do
    [ ! -e "$p" ] || fail "purge left $p"
done
st=$(dpkg-query -W -f='${Status}' blockedge 2>/dev/null || true)
case "$st" in "" | *not-installed) ;; *) fail "dpkg still has blockedge after purge: $st" ;; esac
say "purged: no user, no /etc/blockedge, no /var/cache/blockedge; total $(($(date +%s) - t0)) s"
echo "1 passed, 0 failed"
