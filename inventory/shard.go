package inventory

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// Shard is one part of a deterministic split of an inventory among Count
// control hosts (`--shard Index/Count`). Index is 1-based: the parts of a
// split in three are 1/3, 2/3 and 3/3.
//
// A host belongs to the part with the highest weight for its name
// (rendezvous, or highest-random-weight, hashing), where the weight of part
// j for name is splitmix64(fnv1a64(name) XOR splitmix64(j)). It depends on
// nothing but the host's name and Count, so several control hosts that are
// each given their own Index split one inventory without talking to each
// other, every host is in exactly one part, and going from n to n+1 parts
// moves only the hosts the new part wins: about 1/(n+1) of them. The
// function is a contract: changing it moves hosts between control hosts.
type Shard struct {
	Index int // 1..Count
	Count int // at least 1
}

// ParseShard parses "i/n" with 1 <= i <= n. The empty string is the whole
// inventory (1/1).
func ParseShard(s string) (Shard, error) {
	if s == "" {
		return Shard{Index: 1, Count: 1}, nil
	}
	is, ns, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(is))
	n, err2 := strconv.Atoi(strings.TrimSpace(ns))
	if !ok || err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("parse shard %q: want INDEX/COUNT, such as 1/3", s)
	}
	if n < 1 || i < 1 || i > n {
		return Shard{}, fmt.Errorf("parse shard %q: the index counts from 1 to the count (1/%d .. %d/%d)", s, max(n, 1), max(n, 1), max(n, 1))
	}
	return Shard{Index: i, Count: n}, nil
}

// String returns the shard as "i/n".
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// Owns reports whether the host called name is in this part.
func (s Shard) Owns(name string) bool {
	return s.Count <= 1 || ShardOf(name, s.Count) == s.Index
}

// Select returns the hosts of this part, in their order.
func (s Shard) Select(hosts []*Host) []*Host {
	if s.Count <= 1 {
		return hosts
	}
	var out []*Host
	for _, h := range hosts {
		if s.Owns(h.Name) {
			out = append(out, h)
		}
	}
	return out
}

// ShardOf returns the part (1..n) the host called name belongs to in a
// split in n parts; ties, which need a 64-bit collision, go to the lower
// part.
func ShardOf(name string, n int) int {
	if n <= 1 {
		return 1
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	key := h.Sum64()
	best, bestW := 1, uint64(0)
	for j := 1; j <= n; j++ {
		if w := splitmix64(key ^ splitmix64(uint64(j))); j == 1 || w > bestW {
			best, bestW = j, w
		}
	}
	return best
}

// splitmix64 is the finaliser of SplitMix64: a bijection of 64-bit values
// whose every output bit depends on every input bit, so that weights of
// similar names (web-1, web-2) are unrelated.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
