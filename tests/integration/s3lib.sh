# s3lib.sh - a real S3-compatible store for the integration tests: OpenStack Swift (Debian's
# swift-proxy, -object, -container, -account) with its s3api and tempauth middlewares, one node,
# one replica, plain processes on 127.0.0.1 under the test's temp dir. Sourced after lib.sh.
#
# start_s3_store: ~5 s; call it once per test file. Sets S3_ENDPOINT, S3_REGION, S3_BUCKET,
# S3_ACCESS_KEY (tempauth's "account:user", with a colon), S3_SECRET_KEY, S3_PROXY_LOG.
# s3_put_block FILE KEY: upload FILE as $S3_BUCKET/blocks/KEY (signed with curl --aws-sigv4).
# s3_gets KEY: how many GETs of .../KEY from blockedge the proxy has logged.
# Swift lives in Debian's python (/usr/bin/python3); tools/install-deps.sh installs it.

S3_REGION=us-east-1
S3_BUCKET=origin
S3_ACCESS_KEY='test:tester'
S3_SECRET_KEY='testing'
S3_EMPTY_SHA=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

# s3_curl METHOD PATH PAYLOAD_SHA [curl args...]: a SigV4-signed request. The access key holds a
# colon, so it goes %-encoded in the URL's userinfo (curl --user would split it there).
s3_curl() {
    local m=$1 path=$2 sha=$3
    shift 3
    curl -sS --max-time 20 --fail-with-body --aws-sigv4 "aws:amz:$S3_REGION:s3" -X "$m" \
        -H "x-amz-content-sha256: $sha" "$@" \
        "http://${S3_ACCESS_KEY/:/%3A}:$S3_SECRET_KEY@${S3_ENDPOINT#http://}$path"
}

s3_server_conf() { # s3_server_conf KIND PORT DIR
    cat <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $2
workers = 1
user = $(id -un)
swift_dir = $3/etc
devices = $3/srv
mount_check = false
disable_fallocate = true
log_level = INFO
recon_cache_path = $3/cache

[pipeline:main]
pipeline = healthcheck $1-server

[app:$1-server]
use = egg:swift#$1

[filter:healthcheck]
use = egg:swift#healthcheck
EOF
}

start_s3_store() {
    local d="$T/swift" port oport cport aport mport kind p i code pid
    command -v swift-proxy-server >/dev/null || fail "Swift is not installed (tools/install-deps.sh)"
    [ -s /etc/swift/swift.conf ] || fail "/etc/swift/swift.conf is missing (Debian's swift package)"
    port=$(free_port) && oport=$(free_port) && cport=$(free_port) && aport=$(free_port) &&
        mport=$(free_port) || fail "no free ports for Swift"
    mkdir -p "$d"/{etc,srv/d1,cache,log}
    s3_server_conf object "$oport" "$d" >"$d/etc/object-server.conf"
    s3_server_conf container "$cport" "$d" >"$d/etc/container-server.conf"
    s3_server_conf account "$aport" "$d" >"$d/etc/account-server.conf"
    # s3api before its auth (tempauth); tempauth needs the cache middleware.
    cat >"$d/etc/proxy-server.conf" <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $port
workers = 1
user = $(id -un)
swift_dir = $d/etc
log_level = INFO

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache s3api tempauth proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = $S3_SECRET_KEY .admin

[filter:s3api]
use = egg:swift#s3api
location = $S3_REGION

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$mport

[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
EOF
    # One device, one replica: three rings built in one interpreter.
    /usr/bin/python3 - "$d/etc" "$aport" "$cport" "$oport" <<'EOF' >"$d/log/rings.log" 2>&1 ||
import sys
from swift.common.ring import RingBuilder
etc = sys.argv[1]
for name, port in zip(("account", "container", "object"), sys.argv[2:]):
    b = RingBuilder(8, 1, 1)
    b.add_dev({"id": 0, "region": 1, "zone": 1, "ip": "127.0.0.1", "port": int(port),
               "device": "d1", "weight": 1.0})
    b.rebalance()
    b.save("%s/%s.builder" % (etc, name))
    b.get_ring().save("%s/%s.ring.gz" % (etc, name))
EOF
        fail "building Swift rings failed: $(tail -n 5 "$d/log/rings.log")"
    memcached -l 127.0.0.1 -p "$mport" -U 0 -m 16 -u "$(id -un)" >"$d/log/memcached.log" 2>&1 &
    track "$!"
    for kind in account container object proxy; do
        /usr/bin/python3 "/usr/bin/swift-$kind-server" "$d/etc/$kind-server.conf" --verbose \
            >"$d/log/$kind.log" 2>&1 </dev/null &
        pid=$!
        track "$pid"
        IT_LOGS+=("$d/log/$kind.log")
    done
    for p in "$aport" "$cport" "$oport" "$port"; do
        code=""
        for ((i = 0; i < 150; i++)); do
            code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$p/healthcheck")
            [ "$code" = 200 ] && break
            sleep 0.1
        done
        [ "$code" = 200 ] || fail "Swift server on port $p did not answer /healthcheck in 15 s"
    done
    S3_ENDPOINT="http://127.0.0.1:$port"
    S3_PROXY_LOG="$d/log/proxy.log"
    s3_curl PUT "/$S3_BUCKET" "$S3_EMPTY_SHA" -o /dev/null || fail "creating bucket $S3_BUCKET failed"
}

s3_put_block() {
    local file=$1 key=$2
    s3_curl PUT "/$S3_BUCKET/blocks/$key" "$(sha_of "$file")" \
        -H 'Content-Type: application/octet-stream' --data-binary "@$file" -o /dev/null ||
        fail "uploading $key to Swift failed"
}

s3_gets() {
    grep -F " GET /$S3_BUCKET/blocks/$1 HTTP" "$S3_PROXY_LOG" | grep -cF " blockedge/"
}
