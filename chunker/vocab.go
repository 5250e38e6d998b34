package chunker

import (
	"fmt"
	"hash/maphash"
	"math/bits"
)

// vocab maps tokens to their ranks. It is an open-addressing hash table
// rather than a map[string]uint32 because looking ranks up is most of a
// tokenizer's work, and most lookups (while merging) are misses: a slot
// keeps 32 bits of its token's hash beside the rank, so a miss is decided
// in the table itself, without reading a key stored elsewhere.
type vocab struct {
	seed  maphash.Seed
	slots []uint64 // hash tag << 32 | rank+1; 0 is an empty slot
	mask  uint64
	text  string   // every token, in rank order
	start []uint32 // token r is text[start[r]:start[r+1]]
}

// newVocab builds the table of toks, whose ranks are their indexes.
func newVocab(toks []string) (vocab, error) {
	v := vocab{seed: maphash.MakeSeed(), start: make([]uint32, 0, len(toks)+1)}
	// A load of at most 1/2 keeps probe sequences short.
	size := uint64(1) << bits.Len(uint(2*len(toks)))
	v.slots, v.mask = make([]uint64, size), size-1
	var text []byte
	for r, tok := range toks {
		if tok == "" {
			return vocab{}, fmt.Errorf("token %d is empty", r)
		}
		v.start = append(v.start, uint32(len(text)))
		text = append(text, tok...)
	}
	v.start = append(v.start, uint32(len(text)))
	v.text = string(text)
	for r, tok := range toks {
		if v.rank(tok) != noRank {
			return vocab{}, fmt.Errorf("token %d (%q) is repeated", r, tok)
		}
		h := maphash.String(v.seed, tok)
		i := h & v.mask
		for v.slots[i] != 0 {
			i = (i + 1) & v.mask
		}
		v.slots[i] = h>>32<<32 | uint64(r+1)
	}
	return v, nil
}

// rank returns the rank of token s, or noRank if s is not a token.
func (v *vocab) rank(s string) uint32 {
	r, _ := v.lookup(s)
	return r
}

// lookup returns the rank of token s, or noRank, and the hash of s.
func (v *vocab) lookup(s string) (uint32, uint64) {
	h := maphash.String(v.seed, s)
	tag := h >> 32
	for i := h & v.mask; ; i = (i + 1) & v.mask {
		e := v.slots[i]
		if e == 0 {
			return noRank, h
		}
		if e>>32 == tag {
			r := uint32(e) - 1
			if v.text[v.start[r]:v.start[r+1]] == s {
				return r, h
			}
		}
	}
}
