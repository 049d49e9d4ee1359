#!/bin/sh
# Runs after brokkr-broker is unpacked (deb postinst, rpm %post). Idempotent: it
# makes sure the brokkr user exists (for an upgrade from a package without it),
# owns the data directory and may read the environment file, and tells systemd
# about the unit. It neither enables nor starts the service; an upgrade restarts a
# running one.
set -e

unit=brokkr-broker.service
envfile=/etc/brokkr/broker.env

if ! getent passwd brokkr >/dev/null 2>&1; then
	echo "brokkr-broker: the brokkr user is missing; the preinstall script creates it" >&2
	exit 1
fi

install -d -m 0750 -o brokkr -g brokkr /var/lib/brokkr
chown brokkr:brokkr /var/lib/brokkr
chmod 0750 /var/lib/brokkr
install -d -m 0755 /etc/brokkr
if [ -f "$envfile" ]; then
	chown root:brokkr "$envfile"
	chmod 0640 "$envfile"
fi

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	systemctl daemon-reload || true
	# deb: "configure <old-version>" on upgrade; rpm: $1 is 2 or more on upgrade.
	case "${1:-}:${2:-}" in
	configure:?* | [2-9]:* | [1-9][0-9]*:*)
		systemctl try-restart "$unit" || true
		;;
	esac
fi

exit 0
