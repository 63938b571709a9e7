#!/usr/bin/env bash
# `make run`: luna on this machine with nothing else installed. Every backend whose URL is
# unset (DATABASE_URL, MINIO_ENDPOINT, AMQP_URL) is embedded, with its data under .luna/.
set -euo pipefail
cd "$(dirname "$0")/.."
export LUNA_DATA_DIR=${LUNA_DATA_DIR:-.luna}
export LUNA_PORT=${LUNA_PORT:-8000}
export LUNA_FIRST_ORGANISER=${LUNA_FIRST_ORGANISER:-organiser}
mkdir -p "$LUNA_DATA_DIR"
password_file="$LUNA_DATA_DIR/organiser-password"
[ -s "$password_file" ] ||
  .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(9))' >"$password_file"
chmod 600 "$password_file"
password=$(cat "$password_file")
url=${LUNA_PUBLIC_URL:-http://127.0.0.1:$LUNA_PORT}
cat <<MSG

  luna is starting on $url  (data in $LUNA_DATA_DIR/; Ctrl-C stops it)

  organiser login:   username '$LUNA_FIRST_ORGANISER', password '$password'
  try it:            .venv/bin/python -m luna example-dataset example/
                     LUNA_SERVER=$url LUNA_USERNAME=$LUNA_FIRST_ORGANISER LUNA_PASSWORD='$password' \\
                       .venv/bin/python -m luna submit example/
  add a team member: echo PASSWORD | .venv/bin/python -m luna user add NAME --team TEAM --password-stdin

MSG
exec .venv/bin/python -m luna serve
