package inventory

import (
	"fmt"
	"testing"
)

// shardNames are the 1,000 host names the split is tested on.
func shardNames() []*Host {
	hosts := make([]*Host, 1000)
	for i := range hosts {
		hosts[i] = &Host{Name: fmt.Sprintf("web-%03d.dc%d.example.com", i, i%3)}
	}
	return hosts
}

// split returns each host's part for a split in n, checking that the parts
// Select returns are disjoint and cover every host.
func split(t *testing.T, hosts []*Host, n int) map[string]int {
	t.Helper()
	part := map[string]int{}
	for i := 1; i <= n; i++ {
		for _, h := range (Shard{Index: i, Count: n}).Select(hosts) {
			if p, dup := part[h.Name]; dup {
				t.Fatalf("n=%d: %s is in part %d and in part %d", n, h.Name, p, i)
			}
			part[h.Name] = i
		}
	}
	if len(part) != len(hosts) {
		t.Fatalf("n=%d: the parts hold %d of %d hosts", n, len(part), len(hosts))
	}
	return part
}

func TestShardDisjointCoverBalanced(t *testing.T) {
	hosts := shardNames()
	for n := 1; n <= 16; n++ {
		part := split(t, hosts, n)
		sizes := make([]int, n+1)
		for _, p := range part {
			sizes[p]++
		}
		// A fair split: every part within 40% of its share (1000/n).
		for i := 1; i <= n; i++ {
			share := float64(len(hosts)) / float64(n)
			if d := float64(sizes[i]) - share; d > 0.4*share || d < -0.4*share {
				t.Errorf("n=%d: part %d has %d hosts, the share is %.0f", n, i, sizes[i], share)
			}
		}
	}
}

func TestShardMovesFewWhenCountGrows(t *testing.T) {
	hosts := shardNames()
	for n := 1; n <= 15; n++ {
		before, after := split(t, hosts, n), split(t, hosts, n+1)
		moved := 0
		for name, p := range before {
			if after[name] != p {
				moved++
				// Rendezvous hashing only moves hosts to the new part.
				if after[name] != n+1 {
					t.Errorf("n=%d->%d: %s moved from %d to %d, not to the new part", n, n+1, name, p, after[name])
				}
			}
		}
		frac, bound := float64(moved)/float64(len(hosts)), 2/float64(n+1)
		if frac >= bound {
			t.Errorf("n=%d->%d: %d of %d hosts moved (%.3f), want < %.3f", n, n+1, moved, len(hosts), frac, bound)
		}
		if moved == 0 {
			t.Errorf("n=%d->%d: no host moved to the new part", n, n+1)
		}
	}
}

func TestShardStable(t *testing.T) {
	hosts := shardNames()
	first := split(t, hosts, 7)
	for range 3 {
		again := split(t, hosts, 7)
		for name, p := range first {
			if again[name] != p {
				t.Fatalf("%s: part %d, then %d", name, p, again[name])
			}
		}
	}
	// The function is a contract between control hosts, possibly running
	// different tend versions: these values must never change.
	pinned := []struct {
		name string
		n    int
		want int
	}{
		{"web-1", 2, 1}, {"web-1", 3, 1}, {"web-1", 10, 9},
		{"web-2", 2, 1}, {"web-2", 3, 1}, {"web-2", 10, 6},
		{"db-1", 2, 1}, {"db-1", 3, 3}, {"db-1", 10, 7},
		{"host-0042.example.com", 3, 1}, {"host-0042.example.com", 10, 9},
	}
	for _, p := range pinned {
		if got := ShardOf(p.name, p.n); got != p.want {
			t.Errorf("ShardOf(%q, %d) = %d, want %d (the split changed: control hosts of different versions would disagree)", p.name, p.n, got, p.want)
		}
	}
}

func TestParseShard(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Shard
		wantErr bool
	}{
		{"", Shard{1, 1}, false},
		{"1/1", Shard{1, 1}, false},
		{"2/3", Shard{2, 3}, false},
		{"3/3", Shard{3, 3}, false},
		{"0/3", Shard{}, true},
		{"4/3", Shard{}, true},
		{"1/0", Shard{}, true},
		{"-1/3", Shard{}, true},
		{"1", Shard{}, true},
		{"a/b", Shard{}, true},
		{"1/3/4", Shard{}, true},
	} {
		got, err := ParseShard(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseShard(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
	if s := (Shard{2, 5}).String(); s != "2/5" {
		t.Errorf("String = %q, want 2/5", s)
	}
}
