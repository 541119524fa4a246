# shellcheck shell=bash
# Make sure the machine's PostgreSQL (5432), Redis (6379) and NATS JetStream (4222) answer,
# starting them when they do not. Used by .ci/run; can be sourced by other scripts.

_wait_for() { # SECONDS DESCRIPTION CMD... -> retry CMD until it succeeds
    local seconds="$1" what="$2" i
    shift 2
    for ((i = 0; i < seconds * 4; i++)); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.25
    done
    echo "$what did not become ready within ${seconds}s" >&2
    return 1
}

postgres_ready() { pg_isready -q -h 127.0.0.1 -p 5432 -t 2; }
redis_ready() { [[ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" == "PONG" ]]; }
nats_ready() { timeout 2 bash -c '</dev/tcp/127.0.0.1/4222'; }

ensure_postgres() {
    if postgres_ready; then
        echo "PostgreSQL: ready on 127.0.0.1:5432"
        return 0
    fi
    echo "PostgreSQL: not answering, starting it"
    local version
    version="$(ls /etc/postgresql | sort -V | tail -n 1)"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
    _wait_for 30 PostgreSQL postgres_ready
    echo "PostgreSQL: started"
}

ensure_redis() {
    if redis_ready; then
        echo "Redis: ready on 127.0.0.1:6379"
        return 0
    fi
    echo "Redis: not answering, starting it"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log
    _wait_for 15 Redis redis_ready
    echo "Redis: started"
}

ensure_nats() {
    if nats_ready; then
        echo "NATS: ready on 127.0.0.1:4222"
        return 0
    fi
    echo "NATS: not answering, starting it"
    mkdir -p /var/lib/nats-server
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
        -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
    _wait_for 15 NATS nats_ready
    echo "NATS: started"
}

ensure_services() {
    ensure_postgres
    ensure_redis
    ensure_nats
}
