#!/bin/sh
# Runs before brokkr-broker is removed (deb prerm, rpm %preun). On removal, not on
# upgrade, it stops and disables the service. The brokkr user, /etc/brokkr and
# /var/lib/brokkr stay, as data and settings should.
set -e

unit=brokkr-broker.service

# deb: "remove"; rpm: $1 is 0 when the package is erased (1 on upgrade).
case "${1:-}" in
remove | 0) ;;
*) exit 0 ;;
esac

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	systemctl disable --now "$unit" >/dev/null 2>&1 || true
fi

exit 0
