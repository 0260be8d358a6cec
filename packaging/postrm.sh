#!/bin/sh
# postrm of the tend .deb: systemd forgets the removed unit. A purge also
# removes the agent's history and Git cache (/var/lib/tend-agent), but not
# /var/lib/tend, tend's state on this host (what it manages, the lock),
# which push-mode runs from a control host use too.
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
if [ "$1" = purge ]; then
	rm -rf /var/lib/tend-agent
fi
exit 0
