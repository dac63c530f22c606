# Sourced by the fetch scripts: makes apt know the packages of a Debian
# architecture (amd64, arm64, …). The host's own needs nothing; a foreign one
# is added once with dpkg --add-architecture and apt-get update (as root).
ensure_apt_arch() {
  if [ "$1" = "$(dpkg --print-architecture)" ] || dpkg --print-foreign-architectures | grep -qx "$1"; then
    return 0
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "$2: apt does not know $1 packages; as root: dpkg --add-architecture $1 && apt-get update" >&2
    exit 1
  fi
  echo "$2: adding the $1 architecture to apt (dpkg --add-architecture $1) and updating" >&2
  dpkg --add-architecture "$1"
  apt-get update -qq >&2
}
