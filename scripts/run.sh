#!/usr/bin/env bash
# `make run`: luna on this machine. Uses DATABASE_URL, AMQP_URL and MINIO_ENDPOINT when set;
# otherwise this machine's PostgreSQL and RabbitMQ and a local S3 server (moto) under .luna/.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
DATA=${LUNA_DATA_DIR:-.luna}
mkdir -p "$DATA"

bash scripts/services.sh

export LUNA_PORT=${LUNA_PORT:-8000}
export DATABASE_URL=${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/luna}
export AMQP_URL=${AMQP_URL:-${CELERY_BROKER_URL:-amqp://guest:guest@127.0.0.1:5672/}}

if [ -z "${MINIO_ENDPOINT:-}" ]; then
  S3_PORT=${LUNA_S3_PORT:-9000}
  export MINIO_ENDPOINT=http://127.0.0.1:$S3_PORT MINIO_ACCESS_KEY=luna MINIO_SECRET_KEY=luna-local-secret
  if ! curl -s -o /dev/null "$MINIO_ENDPOINT" 2>/dev/null; then
    echo "run: starting a local S3 server (moto) on $MINIO_ENDPOINT"
    "$BIN/moto_server" -H 127.0.0.1 -p "$S3_PORT" >"$DATA/s3.log" 2>&1 &
    S3_PID=$!
    trap 'kill $S3_PID 2>/dev/null || true' EXIT
    for _ in $(seq 1 50); do curl -s -o /dev/null "$MINIO_ENDPOINT" && break; sleep 0.2; done
  fi
fi

if [ -z "${JWT_SECRET_KEY:-}" ]; then
  [ -s "$DATA/jwt-secret" ] || "$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(48))' >"$DATA/jwt-secret"
  JWT_SECRET_KEY=$(cat "$DATA/jwt-secret")
  export JWT_SECRET_KEY
fi

# The database itself, when the server is local and it does not exist yet.
"$BIN/python" - <<'PY'
import asyncio, os
import asyncpg

async def main() -> None:
    url = os.environ["DATABASE_URL"]
    base, name = url.rsplit("/", 1)
    try:
        conn = await asyncpg.connect(url)
    except asyncpg.InvalidCatalogNameError:
        admin = await asyncpg.connect(base + "/postgres")
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        print(f"run: created database {name}")
    else:
        await conn.close()

asyncio.run(main())
PY

"$BIN/python" -m luna migrate

# The first organiser account; its password is kept in the data folder across runs.
[ -s "$DATA/organiser-password" ] ||
  "$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(12))' >"$DATA/organiser-password"
"$BIN/python" -m luna user add organiser --team organisers --admin --password-stdin <"$DATA/organiser-password"
cat <<MSG

  luna is starting on http://127.0.0.1:$LUNA_PORT
  organiser login: username 'organiser', password '$(cat "$DATA/organiser-password")'
    curl -s -X POST http://127.0.0.1:$LUNA_PORT/api/v1/auth/login \\
         -H 'Content-Type: application/json' \\
         -d '{"username": "organiser", "password": "$(cat "$DATA/organiser-password")"}'
  add a team member:  echo PASSWORD | .venv/bin/python -m luna user add NAME --team TEAM --password-stdin

MSG
"$BIN/python" -m luna serve
