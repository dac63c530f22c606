#!/bin/sh
# Installs Go (Debian/Ubuntu's golang-go) when go is missing, for the VM tier's
# `go test -exec` tests; idempotent.
set -eu

if command -v go >/dev/null; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-go: go is missing; run as root or: sudo apt-get install -y golang-go" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends golang-go >/dev/null
command -v go >/dev/null
