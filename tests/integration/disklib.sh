# disklib.sh - what the disk-tier tests (40_*.sh) add to lib.sh: a config with a disk tier,
# waiting for the index, whole-key-set reads, record offsets in segment files.
# Source after lib.sh.

DISK_HELP="$IT_DIR/diskhelp.py"

# disk_conf ORIGIN_URL DISK_DIR [NAME]: be_conf with disk_path DISK_DIR, disk_size
# ${CONF_DISK_SIZE:-64m} and disk_segment_size ${CONF_DISK_SEGMENT_SIZE:-1m}.
disk_conf() {
    be_conf "$1" "${3:-be}" | sed "s|^cache {|cache {\n    disk_path $2;\n    disk_size ${CONF_DISK_SIZE:-64m};\n    disk_segment_size ${CONF_DISK_SEGMENT_SIZE:-1m};|"
}

# wait_disk_ready: wait (<= 10 s) until the disk index has loaded.
wait_disk_ready() {
    local v
    v=$(wait_metric blockedge_disk_index_state 1 10)
    check_eq "$v" 1 "blockedge_disk_index_state after start-up"
}

# get_all KEYSFILE OUT: GET every key; fail on a wrong status or byte. OUT: "KEY X-CACHE" lines.
get_all() {
    "$PY" "$DISK_HELP" getall "$BE_URL" "$1" "$2" || fail "get_all: a block came back wrong"
}

# xcache_count OUT VALUE: how many lines of a get_all output have this X-Cache.
xcache_count() {
    grep -c " $2\$" "$1"
}

# record_of DIR KEY: "FILE OFFSET" of KEY's record header in DIR's segments.
record_of() {
    "$PY" "$DISK_HELP" find "$1" "$2" || fail "record_of: no record of ${2:0:16}… in $1"
}

# flip_byte FILE OFFSET: invert one byte in place.
flip_byte() {
    "$PY" - "$1" "$2" <<'PYEOF' || fail "flip_byte $1 $2 failed"
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2]))
    b = f.read(1)
    f.seek(int(sys.argv[2]))
    f.write(bytes([b[0] ^ 0xFF]))
PYEOF
}

# zero_fill FILE OFFSET LEN: overwrite LEN bytes with zeros in place.
zero_fill() {
    dd if=/dev/zero of="$1" bs=1 seek="$2" count="$3" conv=notrunc status=none ||
        fail "zero_fill $1 $2 $3 failed"
}
