#!/bin/sh
# Runs before brokkr-broker or brokkr-agent is unpacked (deb preinst, rpm %pre):
# creates the brokkr system group and user that the services run as. Safe to run
# any number of times; an existing user or group is left as it is.
set -e

name=brokkr
home=/var/lib/brokkr

nologin=/usr/sbin/nologin
[ -x "$nologin" ] || nologin=/sbin/nologin
[ -x "$nologin" ] || nologin=/bin/false

if ! getent group "$name" >/dev/null 2>&1; then
	if command -v groupadd >/dev/null 2>&1; then
		groupadd --system "$name"
	else
		addgroup -S "$name"
	fi
fi

if ! getent passwd "$name" >/dev/null 2>&1; then
	if command -v useradd >/dev/null 2>&1; then
		useradd --system --gid "$name" --home-dir "$home" --no-create-home \
			--shell "$nologin" --comment "brokkr services" "$name"
	else
		adduser -S -D -H -G "$name" -h "$home" -s "$nologin" -g "brokkr services" "$name"
	fi
fi

exit 0
