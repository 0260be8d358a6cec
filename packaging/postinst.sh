#!/bin/sh
# postinst of the tend .deb. systemd learns about the unit; the agent is
# enabled and started only when /etc/tend/agent.hcl is valid (tend agent
# --check). The agent.hcl the package ships has its source block commented
# out, so a fresh install starts nothing until it is configured; a host
# provisioned with a valid agent.hcl before the install starts at once. On
# an upgrade an enabled agent is restarted with the new binary; one the
# administrator disabled stays disabled.
set -e
unit=tend-agent.service
config=/etc/tend/agent.hcl
if [ "$1" = configure ] && [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
	if [ -n "$2" ]; then
		if systemctl -q is-enabled "$unit" 2>/dev/null; then
			systemctl try-restart "$unit" || true
		fi
	elif /usr/bin/tend agent --check -c "$config" >/dev/null 2>&1; then
		systemctl enable --now "$unit" || true
	else
		echo "tend: the agent is not started: fill in $config, check it with" >&2
		echo "  tend agent --check -c $config" >&2
		echo "then run: systemctl enable --now $unit" >&2
	fi
fi
exit 0
