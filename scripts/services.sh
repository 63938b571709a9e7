#!/usr/bin/env bash
# Starts the backing services the tests use when they are installed here but stopped.
# Services that are not installed are left to the tests' own clear failure messages.
set -uo pipefail

wait_for() {  # wait_for NAME COMMAND...
  local name=$1; shift
  for _ in $(seq 1 60); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  echo "services: $name did not come up within 60 s" >&2
  return 1
}

if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1; then
  if command -v pg_ctlcluster >/dev/null; then
    echo "services: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    wait_for PostgreSQL pg_isready -q -h 127.0.0.1
  fi
fi

if command -v redis-server >/dev/null && ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  echo "services: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  wait_for Redis redis-cli -h 127.0.0.1 ping
fi

if command -v rabbitmq-server >/dev/null && ! rabbitmqctl -q status >/dev/null 2>&1; then
  echo "services: starting RabbitMQ"
  rabbitmq-server -detached || true
  wait_for RabbitMQ rabbitmqctl -q await_startup
fi
exit 0
