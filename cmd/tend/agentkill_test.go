package main

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/agent"
	"github.com/tendhq/tend/agent/store"
	"github.com/tendhq/tend/internal/sshtest"
)

// agentKillSpec is the spec the kill loop commits, at version %[1]s: a
// one-time migration that takes a second (so that syncs last long enough to
// be killed in), and twenty files with the version in them.
const agentKillSpec = `role "app" {
  hosts = ["*"]

  directory "root" {
    path = host.vars.root
  }

  exec "migrate" {
    command    = ["sh", "-c", "sleep 1 && touch \"$1\"", "sh", "${host.vars.root}/migrated-%[1]s"]
    creates    = "${host.vars.root}/migrated-%[1]s"
    depends_on = [directory["root"]]
  }

  file "f" {
    for_each   = toset([for i in range(20) : tostring(i)])
    path       = "${host.vars.root}/f${each.key}.conf"
    content    = "version %[1]s, file ${each.key}\n"
    depends_on = [exec["migrate"]]
  }
}
`

// killStoreState opens the agent's history the way the agent does and
// checks it: it must open (after any SIGKILL), pass bbolt's consistency
// check and list its syncs. It returns the syncs, newest first.
func killStoreState(t *testing.T, path string) []*store.Sync {
	t.Helper()
	s, err := store.Open(path, historyRetain)
	if err != nil {
		t.Fatalf("the history store does not open after a kill: %v", err)
	}
	defer s.Close()
	if err := s.Check(); err != nil {
		t.Fatalf("the history store is inconsistent after a kill: %v", err)
	}
	syncs, err := s.Syncs(1000)
	if err != nil {
		t.Fatalf("the history store cannot list its syncs after a kill: %v", err)
	}
	return syncs
}

// TestAgentKilledDuringSyncs guarantees that the agent survives being
// killed with SIGKILL at random points, 24 times, mostly while it syncs two
// hosts and with new commits in between: its bbolt history opens (and
// passes bbolt's check) after every kill, every interrupted sync is
// recorded as interrupted, and after the last restart one sync converges
// the hosts to the head revision, with the history readable through the
// API and `tend history`.
func TestAgentKilledDuringSyncs(t *testing.T) {
	const kills = 24
	bin := buildTend(t)
	servers := sshtest.Start(t, 2)
	inv, roots := sshInventory(t, servers)
	dir := t.TempDir()
	repo := newGitopsRepo(t, dir)
	dataDir := filepath.Join(dir, "data")
	addr := freePort(t)
	cfg := gitopsConfig(t, dir, "agent.hcl", "file://"+repo.bare, inv, addr, dataDir, testStateDir(t), `poll_interval  = "200ms"
drift_interval = "1h"
sync_policy    = "auto"
`)
	// A new seed each run: the kill points differ from run to run, and
	// the log says where each one struck.
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 8))
	var head, version string
	// midSync counts the syncs recorded as interrupted so far: each kill
	// that struck during a sync adds one.
	midSync := 0
	for i := range kills {
		// A new commit every third kill: the agent then has a new
		// revision to sync (and one that a killed sync left half done).
		if i%3 == 0 {
			version = fmt.Sprintf("v%d", i/3+1)
			head = repo.commit(map[string]string{"main.hcl": fmt.Sprintf(agentKillSpec, version)}, "deploy "+version)
		}
		// startAgentProcess waits for the API, which the agent serves
		// only once its store opened.
		a := startAgentProcess(t, bin, cfg, addr)
		if i%4 != 3 {
			// Most kills wait for a sync to run, then strike at a random
			// point of it.
			deadline := time.Now().Add(30 * time.Second)
			for time.Now().Before(deadline) {
				var h agent.HistoryReply
				if err := a.get("/api/v1/history?limit=1", &h); err == nil && len(h.Syncs) > 0 && h.Syncs[0].Result == store.ResultRunning {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond)
		a.kill()

		// The store as the next agent will find it; opening it marks the
		// killed sync interrupted, as the agent's own Open does.
		syncs := killStoreState(t, filepath.Join(dataDir, "history.db"))
		interrupted := 0
		for _, s := range syncs {
			if s.Result == store.ResultInterrupted {
				interrupted++
			}
			if s.Result == store.ResultRunning {
				// Open marks what was running as interrupted.
				t.Fatalf("kill %d: sync %d is still running after the store was reopened", i+1, s.ID)
			}
		}
		if interrupted > midSync {
			t.Logf("kill %d: during sync %d (%s)", i+1, syncs[0].ID, version)
		} else {
			t.Logf("kill %d: between syncs", i+1)
		}
		midSync = interrupted
	}
	t.Logf("%d kills, %d of them during a sync", kills, midSync)
	if midSync < kills/3 {
		t.Errorf("only %d of %d kills struck during a sync: the loop did not test what it should", midSync, kills)
	}

	// The last restart: the agent syncs the head revision by itself.
	a := startAgentProcess(t, bin, cfg, addr)
	a.wait("both hosts Synced at the head revision", 120*time.Second, func() (bool, string) {
		st := a.status()
		ok, d := hostsAre(st, 2, agent.StatusSynced, "")
		for _, h := range st.Hosts {
			ok = ok && strings.Contains(h.Applied, head[:12])
		}
		return ok && st.Head != nil && st.Head.Hash == head, d
	})
	// The files of the head revision, on both hosts.
	for i, root := range roots {
		for _, f := range []string{"f0.conf", "f19.conf"} {
			want := fmt.Sprintf("version %s, file %s\n", version, strings.TrimSuffix(strings.TrimPrefix(f, "f"), ".conf"))
			if got := readFile(t, filepath.Join(root, f)); got != want {
				t.Errorf("h%d: %s = %q, want %q", i, f, got, want)
			}
		}
	}
	// The history through the API: every interrupted sync, and the last
	// one a success at the head.
	h := a.history()
	if n := len(syncsWith(h, "", store.ResultInterrupted)); n != midSync {
		t.Errorf("the API lists %d interrupted syncs, want %d", n, midSync)
	}
	if len(h.Syncs) == 0 || h.Syncs[0].Result != store.ResultSucceeded || h.Syncs[0].Hash != head {
		t.Errorf("the newest sync is not a success at the head revision %s: %+v", head, h.Syncs)
	}
	r := a.cli("history")
	if r.code != 0 || !strings.Contains(r.stdout, "interrupted") || !strings.Contains(r.stdout, "succeeded") {
		t.Errorf("tend history after the kills:\n%s", r)
	}
	// One more kill after the final sync: the store still opens clean.
	a.kill()
	killStoreState(t, filepath.Join(dataDir, "history.db"))
}
