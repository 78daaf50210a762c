#!/usr/bin/env bash
# Make sure the local infrastructure the platform needs is up: PostgreSQL and RabbitMQ.
# Starts a stopped one with this machine's own start command; never uses Docker.
set -euo pipefail

PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
AMQP_HOST=${AMQP_HOST:-127.0.0.1}
AMQP_PORT=${AMQP_PORT:-5672}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_for() {  # name host port seconds
  for _ in $(seq 1 "$4"); do
    if port_open "$2" "$3"; then echo "$1 is up on $2:$3"; return 0; fi
    sleep 1
  done
  echo "$1 did not come up on $2:$3" >&2
  return 1
}

if ! pg_isready -q -h "$PGHOST" -p "$PGPORT" 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -q -h "$PGHOST" -p "$PGPORT" && break; sleep 1; done
  pg_isready -h "$PGHOST" -p "$PGPORT" || { echo "PostgreSQL is not reachable on $PGHOST:$PGPORT" >&2; exit 1; }
fi
echo "PostgreSQL is up on $PGHOST:$PGPORT"

if ! port_open "$AMQP_HOST" "$AMQP_PORT"; then
  if command -v rabbitmq-server >/dev/null; then
    echo "starting RabbitMQ"
    rabbitmq-server -detached || true
  fi
  wait_for RabbitMQ "$AMQP_HOST" "$AMQP_PORT" 90
else
  echo "RabbitMQ is up on $AMQP_HOST:$AMQP_PORT"
fi
