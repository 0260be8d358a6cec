// Package inventory owns what tend knows about the machines it manages: the
// hosts, their groups, their variables and how to reach them, and the
// Transport contract the engine and the resources use to run commands and
// change files on a host.
//
// Start reading at Load (load.go), which returns an Inventory of Hosts
// (host.go); Select and Match (match.go) pick hosts by pattern; Shard
// (shard.go) splits them among control hosts (--shard i/n); Transport
// (transport.go) is implemented by the subpackages ssh and local. Loading
// goes through decode.go (one block at a time, every value checked where it
// is written) and resolve.go (names linked, groups ranked, settings merged,
// jump hosts resolved).
//
// # The inventory language
//
// An inventory is one file, or a directory whose *.hcl and *.hcl.json
// files are read in name order (not recursively; names starting with a dot
// are skipped). Every file may hold these blocks:
//
//	defaults {
//	  user            = "deploy"
//	  port            = 22
//	  identity_file   = "~/.ssh/id_ed25519"   # or identity_files = [...]
//	  ssh_agent       = true
//	  known_hosts     = "~/.ssh/known_hosts"
//	  become          = true                   # run commands with sudo -n
//	  become_user     = "root"
//	  jump            = "bastion"              # a host of the inventory, or "user@addr:port"
//	  connect_timeout = "10s"                  # a Go duration
//	  vars            = { http_port = 8080, motd = "hi" }
//	  vars_files      = ["vars/production.hcl"]  # values of spec variables
//	}
//
//	group "web" {
//	  hosts    = ["web1", "web2"]  # member hosts, which must be declared
//	  children = ["canary"]        # child groups: their hosts are in web too
//	  vars     = { http_port = 8081 }
//	  # and any connection setting of defaults
//	}
//
//	host "web1" {
//	  address = "10.0.0.11"        # default: the host's name
//	  groups  = ["web"]            # another way to join groups
//	  vars    = { http_port = 9000 }
//	  # and any connection setting of defaults
//	}
//
// There is at most one defaults block, and each host and group is declared
// once. A host joins a group when the group lists it in hosts, when it lists
// the group in groups, and when it is in a child group (at any depth).
// Names and addresses must not contain white space.
//
// Values are expressions: literals, and calls of env("NAME") (an
// environment variable of the tend process; env("NAME", "default") gives a
// default for an unset one) and of go-cty's standard functions under their
// Terraform names (lower, upper, format, join, split, concat, merge,
// lookup, jsonencode, ...; see funcs.go). There are no variables. A null
// value leaves a setting unset.
//
// # JSON syntax
//
// A file whose name ends in ".json" (*.hcl.json in a directory) is read in
// HCL's JSON syntax, for inventories that programs write: blocks are
// properties ("defaults": {...}, "group": {"web": {...}}, "host":
// {"web1": {...}}), strings are templates ("${env(\"USER\")}"), and a
// property named "//" is a comment. Both syntaxes decode to the same Hosts,
// and diagnostics in JSON files carry file:line:column too.
//
// # Variable files
//
// vars_files, allowed in defaults, group and host blocks, lists files of
// values for the spec's variables: HCL attribute files (name = value), the
// format of tend plan --var-file. A path is relative to the inventory file
// that lists it (or absolute; LoadFS takes only paths inside its file
// system). The loader checks that each file exists, and reports a missing
// one at its element of the list, but does not parse it: the values are
// typed by the spec's variable declarations, so the spec loader reads them
// per host. Keep them out of an inventory directory (a vars/ subdirectory
// does), or every *.hcl among them is read as part of the inventory.
//
// Unlike the other settings, vars_files add up: Host.VarFiles lists the
// defaults' files, then each group's in the host's group order
// (Host.Groups), then the host's own, lowest precedence first, so that a
// later file's values override an earlier one's. A file listed at several
// levels appears once, at its highest position.
//
// # Precedence
//
// A host's settings are merged from three levels, each overriding the one
// before: defaults < its groups < the host block. Its groups (Host.Groups)
// are every group it is in, ancestors included, in this order: a group comes
// after all of its ancestors, so a child group overrides its parents; among
// the groups that order leaves free, the one declared first comes first
// (files in name order, blocks in file order), so a later declaration
// overrides an earlier one. Formally it is the stable topological order of
// all groups by declaration, restricted to the host's groups.
//
// Variables merge per top-level key: a level that sets a key replaces that
// key's whole value, as Ansible does by default; other keys are kept.
// Host.Vars is the merged object (cty.EmptyObjectVal when there are none).
// vars_files add up instead (see Variable files).
//
// # Defaults
//
// Settings no level gives take these values, resolved when the inventory
// is loaded on the machine running tend: port 22; user, the user running
// tend; identity files, those of ~/.ssh/id_ed25519, ~/.ssh/id_ecdsa and
// ~/.ssh/id_rsa that exist then (identity_files = [] means none);
// known_hosts ~/.ssh/known_hosts; become false, as user root; connect
// timeout 10s; no jump. The SSH agent is used when SSH_AUTH_SOCK is set and
// ssh_agent is not false. A leading "~/" in a path is the home directory.
//
// # Jump hosts
//
// jump names a host of the inventory, whose merged address, port, user, keys,
// agent and known_hosts are used to reach it; or, for a machine outside
// the inventory, "user@address:port" where the user (default: the host's)
// or the port (default 22) may be left out but one of "@" and ":" must be
// there, so that a misspelt host name is an error and not an address. Such
// a jump uses the host's keys, agent and known_hosts. A host never jumps
// through itself: defaults { jump = "bastion" } leaves bastion itself
// direct. Jump hosts cannot be chained, and jump = "" undoes an inherited
// jump.
//
// # Host patterns
//
// Role selectors and --limit pick hosts with patterns (Match, Select):
//
//	group:NAME   every host in group NAME, directly or through child groups
//	host:NAME    the host called NAME
//	GLOB         host names matching a shell glob (web*, db[12])
//
// Select takes several patterns and returns the hosts any of them match; a
// pattern that matches nothing is an error, so that a typo never silently
// shrinks a run.
//
// # Diagnostics
//
// Load reports every problem it finds as an hcl.Diagnostic whose Subject is
// the narrowest range at fault (the value, the list element, the block
// label), never only the first problem. Print them with
// hcl.NewDiagnosticTextWriter and Inventory.Files.
package inventory
