#!/bin/sh
# Runs after brokkr-agent is unpacked (deb postinst, rpm %post). Idempotent: it
# makes sure the brokkr user exists, may read the environment file (it holds the
# agent's PAK), and tells systemd about the unit. It neither enables nor starts the
# service, which needs its settings first; an upgrade restarts a running one.
set -e

unit=brokkr-agent.service
envfile=/etc/brokkr/agent.env

if ! getent passwd brokkr >/dev/null 2>&1; then
	echo "brokkr-agent: the brokkr user is missing; the preinstall script creates it" >&2
	exit 1
fi

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
