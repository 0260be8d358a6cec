#!/bin/sh
# prerm of the tend .deb: on removal the agent is stopped (it finishes the
# sync it is running, up to the unit's TimeoutStopSec) and disabled. On an
# upgrade it keeps running; postinst restarts it with the new binary.
set -e
if [ -d /run/systemd/system ]; then
	case "$1" in
	remove | deconfigure)
		systemctl disable --now tend-agent.service >/dev/null 2>&1 || true
		;;
	esac
fi
exit 0
