package config

import (
	"unsafe"

	"github.com/zclconf/go-cty/cty"
)

// strArena hands out the short strings of one compilation (paths, node
// keys) from shared blocks: one allocation per block rather than one per
// string, which a fleet of 5,000 hosts x 100 resources makes 500,000
// times over (issue 7). Bytes are only ever appended to a block, never
// changed, so the strings stay valid and immutable; a block lives as long
// as any of its strings. The zero value is ready; a nil arena allocates
// each string on its own.
type strArena struct {
	block []byte
	// num and numStr are the last number that number rendered, which
	// the next call most likely asks for again (a host's port in each of
	// its templates); numStr is "" until then (no number prints empty).
	num    cty.Value
	numStr string
}

// arenaBlock is the size of a block; a longer string gets its own.
const arenaBlock = 8 << 10

// str returns b as a string, copied into the arena.
func (a *strArena) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if a == nil || len(b) > arenaBlock/4 {
		return string(b)
	}
	if cap(a.block)-len(a.block) < len(b) {
		a.block = make([]byte, 0, arenaBlock)
	}
	n := len(a.block)
	a.block = append(a.block, b...)
	s := a.block[n:len(a.block):len(a.block)]
	return unsafe.String(unsafe.SliceData(s), len(s))
}

// number returns v, a known number without marks, as HCL converts it to a
// string (appendPrimitive).
func (a *strArena) number(v cty.Value) string {
	if a != nil && a.numStr != "" && a.num.RawEquals(v) {
		return a.numStr
	}
	var buf [32]byte
	s := a.str(appendPrimitive(buf[:0], v))
	// Zero and minus zero are equal numbers that print differently.
	if a != nil && s != "0" && s != "-0" {
		a.num, a.numStr = v, s
	}
	return s
}
