#!/usr/bin/env bash
# Start PostgreSQL, Redis and RabbitMQ on 127.0.0.1 when they are not running,
# and wait (bounded) until each answers. Idempotent: running services are left
# alone. A missing server is installed with apt-get only when its binary is
# absent. A service that cannot be started is reported; the tests that need it
# skip locally and fail under CI=true.
set -uo pipefail

wait_port() {  # name port seconds
    local name=$1 port=$2 limit=$3 waited=0
    until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        if (( waited >= limit )); then
            echo "services: $name is not answering on 127.0.0.1:$port after ${limit}s" >&2
            return 1
        fi
        sleep 1; waited=$((waited + 1))
    done
    echo "services: $name answers on 127.0.0.1:$port"
}

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

apt_install() {  # package...
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        echo "services: cannot install $* (not root or no apt-get)" >&2
        return 1
    fi
    if [ -z "${_apt_updated:-}" ]; then apt-get update -qq >/dev/null; _apt_updated=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

start_postgresql() {
    up 5432 && { echo "services: PostgreSQL already answers on 127.0.0.1:5432"; return 0; }
    if ! command -v pg_ctlcluster >/dev/null; then apt_install postgresql || return 1; fi
    local version
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    [ -n "$version" ] || { echo "services: no PostgreSQL cluster in /etc/postgresql" >&2; return 1; }
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    wait_port PostgreSQL 5432 60
}

start_redis() {
    up 6379 && { echo "services: Redis already answers on 127.0.0.1:6379"; return 0; }
    if ! command -v redis-server >/dev/null; then apt_install redis-server || return 1; fi
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        >/dev/null || true
    wait_port Redis 6379 30
}

start_rabbitmq() {
    up 5672 && { echo "services: RabbitMQ already answers on 127.0.0.1:5672"; return 0; }
    if ! command -v rabbitmq-server >/dev/null; then apt_install rabbitmq-server || return 1; fi
    rabbitmq-server -detached >/dev/null 2>&1 || true
    wait_port RabbitMQ 5672 120
}

status=0
start_postgresql || status=1
start_redis || status=1
start_rabbitmq || status=1
exit $status
