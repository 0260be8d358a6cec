// Package systemd holds the files that set tend up as a service under
// systemd in pull mode: the unit (tend-agent.service) and the starter
// agent.hcl. They are embedded, so that `tend install-agent` writes the
// same files the .deb ships (packaging/nfpm.yaml takes them from here).
//
// Start reading at tend-agent.service: its comments say why each
// hardening option is there and why others are not.
package systemd

import _ "embed"

// Unit is tend-agent.service as shipped: the binary at /usr/bin/tend and
// the configuration at /etc/tend/agent.hcl.
//
//go:embed tend-agent.service
var Unit string

// StarterConfig is the agent.hcl installed when there is none: valid but
// for its source block, which is commented out, so that `tend agent
// --check` refuses it and the unit does not start until it is filled in.
//
//go:embed agent.hcl
var StarterConfig string

// UnitName is the unit's file name.
const UnitName = "tend-agent.service"

// DefaultBinary and DefaultConfig are the paths Unit names.
const (
	DefaultBinary = "/usr/bin/tend"
	DefaultConfig = "/etc/tend/agent.hcl"
)
