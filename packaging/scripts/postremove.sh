#!/bin/sh
# Runs after brokkr-broker or brokkr-agent is removed (deb postrm, rpm %postun):
# tells systemd that the unit is gone.
set -e

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi

exit 0
