#!/usr/bin/env bash
# LocalStack's S3, used by the tests that need a store which checks presigned signatures
# (moto does not). It lives in its own venv because its pins clash with luna's dependencies.
#
#   scripts/localstack.sh install     create .tools/localstack/ (idempotent, ~1-2 min)
#   scripts/localstack.sh python      print the venv's python (empty + exit 1 when absent)
#   scripts/localstack.sh run PORT DIR   run S3 on PORT in the foreground, its files under DIR
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${LUNA_LOCALSTACK_VENV:-$ROOT/.tools/localstack}"
MARKER="$VENV/.installed-4.13.1"
# Newer LocalStack releases need Python 3.13; these pins are the last set that runs on 3.11.
PINS=(
  "localstack-core[base-runtime]==4.13.1"
  "cbor2<6"
  "pyopenssl<25"
  "cryptography<45"
  "service_identity"
)

base_python() {
  if [[ -n "${PYTHON:-}" ]]; then echo "$PYTHON"; return; fi
  if [[ -x "$ROOT/.venv/bin/python" ]]; then
    "$ROOT/.venv/bin/python" -c 'import sys; print(sys._base_executable)'
    return
  fi
  command -v python3.11 || command -v python3
}

install() {
  if [[ -f "$MARKER" ]]; then
    echo "localstack: already installed in $VENV"
    return
  fi
  local python
  python="$(base_python)"
  rm -rf "$VENV"
  "$python" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PINS[@]}"
  "$VENV/bin/python" -c 'import localstack.runtime.main'
  touch "$MARKER"
  echo "localstack: installed in $VENV"
}

run() {
  local port="${1:?usage: localstack.sh run PORT DIR}" data_dir="${2:?usage: localstack.sh run PORT DIR}"
  # exec: the caller's signals reach LocalStack itself, so stopping it stops the server.
  SERVICES=s3 EAGER_SERVICE_LOADING=1 GATEWAY_LISTEN="127.0.0.1:$port" PERSISTENCE=0 \
    S3_SKIP_SIGNATURE_VALIDATION=0 OVERRIDE_IN_DOCKER=0 FILESYSTEM_ROOT="$data_dir" \
    DISABLE_EVENTS=1 SKIP_SSL_CERT_DOWNLOAD=1 DNS_ADDRESS=0 LOCALSTACK_TELEMETRY_DISABLED=1 \
    exec "$VENV/bin/python" -m localstack.runtime.main
}

case "${1:-}" in
  install) install ;;
  python)
    if [[ -f "$MARKER" ]]; then echo "$VENV/bin/python"; else exit 1; fi
    ;;
  run) shift; run "$@" ;;
  *) echo "usage: $0 install | python | run PORT DIR" >&2; exit 2 ;;
esac
