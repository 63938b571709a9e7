#!/usr/bin/env bash
# `make run`: luna on this machine with nothing else installed. Every backend whose URL is
# unset (DATABASE_URL, MINIO_ENDPOINT, AMQP_URL) is embedded, with its data under .luna/.
set -euo pipefail
cd "$(dirname "$0")/.."
export LUNA_DATA_DIR=${LUNA_DATA_DIR:-.luna}
export LUNA_PORT=${LUNA_PORT:-8000}
# This machine only: the banner below prints the organiser's password. A deployment that must
# be reached from elsewhere sets LUNA_HOST (e.g. 0.0.0.0) or runs `luna serve` itself.
export LUNA_HOST=${LUNA_HOST:-127.0.0.1}
export LUNA_FIRST_ORGANISER=${LUNA_FIRST_ORGANISER:-organiser}
if [[ $LUNA_PORT =~ ^[0-9]+$ ]]; then
  # A busy port is said in one line before the banner; luna serve checks again itself.
  problem=$(.venv/bin/python -c 'import sys; from luna.cli import listen_problem
print(listen_problem(sys.argv[1], int(sys.argv[2])) or "")' "$LUNA_HOST" "$LUNA_PORT")
  if [ -n "$problem" ]; then
    echo "luna: $problem" >&2
    exit 2
  fi
fi
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
