#!/bin/sh
# Install the Debian packages named as arguments when one is missing.
# Used by `make test` and `make demo` so both work on a fresh machine.
set -eu
missing=""
for pkg in "$@"; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "ensure-packages: missing:$missing; run as root or install them with apt-get" >&2
	exit 1
fi
echo "ensure-packages: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq $missing >/dev/null
