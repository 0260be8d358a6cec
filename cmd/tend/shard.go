package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/tendhq/tend/inventory"
)

// shardFlagHelp is the help of --shard on plan, apply and agent.
const shardFlagHelp = "only this part of the inventory: INDEX/COUNT counted from 1 (1/3, 2/3, 3/3), split by rendezvous hashing of host names, so that COUNT control hosts share a fleet without coordination"

// shardHosts keeps the hosts of the part spec ("i/n"; "" keeps them all).
// A part may be empty: a small inventory split among many control hosts.
func shardHosts(spec string, hosts []*inventory.Host) ([]*inventory.Host, error) {
	s, err := inventory.ParseShard(spec)
	if err != nil {
		return nil, fmt.Errorf("--shard: %w", err)
	}
	return s.Select(hosts), nil
}

// pullHostName is the inventory name pull mode converges: --host, else
// this machine's host name.
func pullHostName(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	name, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("find this machine's host name (give --host NAME): %w", err)
	}
	if name == "" {
		return "", fmt.Errorf("this machine has no host name: give --host NAME")
	}
	return name, nil
}

// pullSelect returns the agent's host selection in pull mode: the one
// inventory host called name or, when none is, the one called the first
// label of name (web1 for web1.example.com). A missing host is an error
// naming what was looked for.
func pullSelect(name string) func([]*inventory.Host) ([]*inventory.Host, error) {
	short, _, _ := strings.Cut(name, ".")
	return func(hosts []*inventory.Host) ([]*inventory.Host, error) {
		for _, want := range []string{name, short} {
			for _, h := range hosts {
				if h.Name == want {
					return []*inventory.Host{h}, nil
				}
			}
		}
		return nil, fmt.Errorf("pull mode: the inventory has no host %q (pick another with --host NAME)", name)
	}
}

// agentSelect combines pull mode and --shard into the agent's host
// selection; nil when the agent converges every host.
func agentSelect(local bool, host, shard string) (func([]*inventory.Host) ([]*inventory.Host, error), error) {
	switch {
	case local && shard != "":
		return nil, fmt.Errorf("--shard splits hosts among control hosts (push mode); with --local each host converges itself")
	case !local && host != "":
		return nil, fmt.Errorf("--host picks this machine's inventory host in pull mode: it needs --local")
	case local:
		name, err := pullHostName(host)
		if err != nil {
			return nil, err
		}
		return pullSelect(name), nil
	case shard != "":
		if _, err := inventory.ParseShard(shard); err != nil {
			return nil, fmt.Errorf("--shard: %w", err)
		}
		return func(hosts []*inventory.Host) ([]*inventory.Host, error) { return shardHosts(shard, hosts) }, nil
	}
	return nil, nil
}
