#!/usr/bin/env bash
# The Debian part of `make test`'s tool step: installs the packages of scripts/debian-packages.txt
# whose command is missing, after printing each one with the reason, and skips what is present.
#
#   scripts/debian-packages.sh             install what is missing (apt-get; sudo when not root)
#   scripts/debian-packages.sh --dry-run   only print what would be installed, and why
#
# LUNA_DEBIAN_PACKAGES=path reads another list (the tests use it).
set -euo pipefail
cd "$(dirname "$0")/.."

LIST=${LUNA_DEBIAN_PACKAGES:-scripts/debian-packages.txt}
DRY_RUN=false
[ "${1:-}" = "--dry-run" ] && DRY_RUN=true

say() { printf 'debian-packages: %s\n' "$*"; }

present=()
missing=()
reasons=()
while read -r package command reason; do
  case "$package" in '' | '#'*) continue ;; esac
  if command -v "$command" >/dev/null 2>&1; then
    present+=("$package")
  else
    missing+=("$package")
    reasons+=("$reason")
  fi
done <"$LIST"

[ ${#present[@]} -eq 0 ] || say "already installed: ${present[*]}"
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
verb=installing
$DRY_RUN && verb="would install"
say "$verb ${#missing[@]} package(s) with ${as_root[*]:+sudo }apt-get, as root:"
for i in "${!missing[@]}"; do
  printf '  %-22s %s\n' "${missing[$i]}" "${reasons[$i]}"
done
if $DRY_RUN; then
  say "--dry-run: nothing installed"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  say "no apt-get on this machine: install them by hand (their tests skip, and fail under CI)" >&2
  exit 0
fi

# Wait for another apt run to finish rather than fail on its lock.
apt=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300)
# A fresh machine may have no package lists yet: update only when the install needs it.
if ! "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
  say "apt-get update (the package lists were missing or stale)"
  "${apt[@]}" update -qq
  "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
say "installed: ${missing[*]}"
