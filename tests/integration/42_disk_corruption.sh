#!/usr/bin/env bash
# 42_disk_corruption: damaged segments never serve a wrong byte. With the server stopped: a
# flipped byte in one record, a zero-filled range in another, a sealed segment truncated (its
# footer gone, so it is scanned and its cut records dropped), plus junk files, a stale temp
# file and a symlink to a valid segment outside disk_path. After the restart every block comes
# back with the right bytes: the damaged ones refetched from the origin (MISS) and counted in
# blockedge_disk_corruptions_total, the junk left alone, the temp file removed, the symlink not
# followed. Then, while running, a byte of a block that is only on disk is flipped: the next
# GET refetches it and counts one more corruption.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disklib.sh"

N=60
gen_blocks "$T/blocks" "$N" 64k 4201
keys_of "$T/blocks" >"$T/keys"
mapfile -t KEYS <"$T/keys"
start_nginx_origin "$T/blocks"
HTTP_PORT=$(free_port)
ADMIN_PORT=$(free_port)
mkdir -p "$T/disk" "$T/outside"
CONF_MEMORY_SIZE=1m
CONF_MAX_BLOCK_SIZE=256k
CONF=$(disk_conf "$ORIGIN_URL" "$T/disk")

start_blockedge "$CONF"
wait_disk_ready
get_all "$T/keys" "$T/fill.out"
check_eq "$(wait_metric blockedge_disk_writes_total "$N" 10)" "$N" "records written"
signal_and_wait "$BE_PID" TERM 15
check_eq "$SIG_RC" 0 "exit status after SIGTERM"
ls -l "$T/disk" >&2

# Damage, server stopped. Blocks are 64 KiB records; 15 fit in a 1 MiB segment.
read -r f1 o1 <<<"$(record_of "$T/disk" "${KEYS[3]}")"
flip_byte "$f1" $((o1 + 64 + 30000))
read -r f2 o2 <<<"$(record_of "$T/disk" "${KEYS[20]}")"
zero_fill "$f2" $((o2 + 64 + 1000)) 4096
SEG2="$T/disk/0000000000000002.seg"
[ -f "$SEG2" ] || fail "no third segment"
truncate -s $(($(stat -c %s "$SEG2") - 70000)) "$SEG2"
echo "an operator's notes" >"$T/disk/README"
echo "not a segment" >"$T/disk/00000000000000f0.seg"
echo "half-written" >"$T/disk/00000000000000f1.seg.tmp"
cp "$T/disk/0000000000000001.seg" "$T/outside/copy.seg"
ln -s "$T/outside/copy.seg" "$T/disk/00000000000000f2.seg"
mkdir "$T/disk/0000000000000ff3.seg"

before=$(origin_total)
start_blockedge "$CONF" be2
wait_disk_ready
get_all "$T/keys" "$T/after.out"
miss=$(xcache_count "$T/after.out" MISS)
disk=$(xcache_count "$T/after.out" HIT-DISK)
log "after the damage: $disk HIT-DISK, $miss MISS"
check_eq "$(grep "^${KEYS[3]} " "$T/after.out" | cut -d' ' -f2)" MISS "X-Cache of the flipped block"
check_eq "$(grep "^${KEYS[20]} " "$T/after.out" | cut -d' ' -f2)" MISS "X-Cache of the zero-filled block"
check_eq "$(metric blockedge_disk_corruptions_total)" 2 "corruptions counted"
# the truncated segment lost its footer and its last two records (70000 bytes > one record)
check_num "$miss" -ge 4 "misses (2 corrupt + the truncated segment's tail)"
check_num "$miss" -le 6 "misses"
check_eq "$((disk + miss))" "$N" "every block answered"
check_eq "$(($(origin_total) - before))" "$miss" "origin requests after the restart"
expect_origin_count "${KEYS[3]}" 2
[ -f "$T/disk/README" ] || fail "the operator's file was removed"
[ -f "$T/disk/00000000000000f0.seg" ] || fail "the junk segment-named file was removed"
[ -e "$T/disk/00000000000000f1.seg.tmp" ] && fail "the stale temp file is still there"
[ -L "$T/disk/00000000000000f2.seg" ] || fail "the symlink was removed"
check_contains "$BE_ERRLOG" "00000000000000f2.seg\" is not a regular file (a symlink?), ignored" "symlink log"
check_contains "$BE_ERRLOG" "00000000000000f0.seg\" is not a valid segment, ignored" "junk log"
check_contains "$BE_ERRLOG" "removing stale temp file" "temp file log"

# While running: the first block is on disk only (a 1 MiB memory tier holds ~15 of 60).
K=${KEYS[0]}
read -r f o <<<"$(record_of "$T/disk" "$K")"
flip_byte "$f" $((o + 64 + 65000))
c0=$(metric blockedge_disk_corruptions_total)
code=$(http_get "$BE_URL/blocks/$K")
check_eq "$code" 200 "GET after the flip while running"
check_eq "$(hdr X-Cache)" MISS "X-Cache after the flip while running"
check_eq "$(sha_of "$T/last.body")" "$K" "body after the flip while running"
check_eq "$(metric blockedge_disk_corruptions_total)" $((c0 + 1)) "corruptions after the flip while running"
check_eq "$(metric 'blockedge_disk_errors_total{kind="io"}')" 0 "I/O errors"
log "ok"
