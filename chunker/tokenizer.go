package chunker

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/tiktoken-go/tokenizer/codec"
)

// Tokenizer finds token boundaries. Implementations must be safe for
// concurrent use and deterministic.
type Tokenizer interface {
	// Offsets appends to dst the end offset (in bytes) of each token of s,
	// in order; the last one is len(s).
	Offsets(dst []int32, s string) []int32
	// Count returns the number of tokens in s.
	Count(s string) int
}

// BPE is OpenAI's cl100k_base byte-pair-encoding tokenizer. Its vocabulary
// comes from github.com/tiktoken-go/tokenizer (embedded in the binary:
// nothing is downloaded); the pre-tokenizer and the merging are our own, and
// give the same tokens as that library's encoding of the whole text (see
// nextPiece for where that library and the cl100k pattern part ways).
// It is safe for concurrent use.
type BPE struct {
	ranks vocab
	cache []atomic.Pointer[cachedPiece] // see split
	// pairs holds the rank of every two-byte token, indexed by the two
	// bytes (a merge starts with a rank for every pair of bytes).
	pairs []uint32
}

// cl100kTokens is the number of ordinary (non-special) tokens of cl100k_base.
const cl100kTokens = 100256

// noRank marks a pair of parts that no token covers.
const noRank = ^uint32(0)

// NewCL100K returns the cl100k_base tokenizer of OpenAI's text-embedding-3
// and ada-002 models. It takes some time (about 100 ms): build one and
// share it.
//
// It links cl100k_base alone: tokenizer.Get would link all four of the
// library's vocabularies (about 8 MB more in the binary).
func NewCL100K() (*BPE, error) {
	c := codec.NewCl100kBase()
	toks := make([]string, cl100kTokens)
	for id := range toks {
		tok, err := c.Decode([]uint{uint(id)})
		if err != nil {
			return nil, fmt.Errorf("cl100k: token %d: %w", id, err)
		}
		toks[id] = tok
	}
	ranks, err := newVocab(toks)
	if err != nil {
		return nil, fmt.Errorf("cl100k: %w", err)
	}
	b := &BPE{ranks: ranks, pairs: make([]uint32, 1<<16), cache: make([]atomic.Pointer[cachedPiece], 1<<cacheBits)}
	for i := range b.pairs {
		b.pairs[i] = noRank
	}
	for id, tok := range toks {
		if len(tok) == 2 {
			b.pairs[int(tok[0])<<8|int(tok[1])] = uint32(id)
		}
	}
	// Merging starts from single bytes: every byte must be a token, or a
	// piece could end with no token for it.
	for i := range 256 {
		if b.ranks.rank(string([]byte{byte(i)})) == noRank {
			return nil, fmt.Errorf("cl100k: byte %#x is not a token", i)
		}
	}
	return b, nil
}

// Offsets implements Tokenizer. Characters the pre-tokenizer matches no
// pattern for (DEL, U+007F: see nextPiece) belong to no token, so Count
// leaves them out; here they join the token before them (the one after, at
// the start of s), so that the offsets still cover s. A text of nothing but
// such characters gets one offset, len(s), and a Count of 0.
func (b *BPE) Offsets(dst []int32, s string) []int32 {
	first := len(dst)
	var buf [scanMax + 1]int32
	for p := 0; ; {
		start, end := nextPiece(s, p)
		if start == end {
			break
		}
		if start > p && len(dst) > first {
			dst[len(dst)-1] = int32(start) // skipped characters join the token before
		}
		p = end
		piece := s[start:end]
		r, h := b.ranks.lookup(piece)
		if r != noRank {
			dst = append(dst, int32(end))
			continue
		}
		for _, e := range b.split(piece, h, &buf)[1:] {
			dst = append(dst, int32(start)+e)
		}
	}
	if n := len(dst); n > first {
		dst[n-1] = int32(len(s))
	} else if len(s) > 0 {
		dst = append(dst, int32(len(s)))
	}
	return dst
}

// Count implements Tokenizer.
func (b *BPE) Count(s string) int {
	n := 0
	var buf [scanMax + 1]int32
	for p := 0; ; {
		start, end := nextPiece(s, p)
		if start == end {
			return n
		}
		p = end
		piece := s[start:end]
		if r, h := b.ranks.lookup(piece); r != noRank {
			n++
		} else {
			n += len(b.split(piece, h, &buf)) - 1
		}
	}
}

// split returns the boundaries of the tokens of piece, which is not a
// token itself, with hash h (from vocab.lookup): offsets from 0 to
// len(piece). The result may be shared: it must not be changed.
//
// Pieces that are not tokens repeat (an identifier in code, a long word
// in prose), and merging one takes a dozen lookups where finding it in the
// cache takes one: the cache keeps the last piece merged for each of its
// slots (lock-free: a slot holds a pointer to an immutable entry).
func (b *BPE) split(piece string, h uint64, buf *[scanMax + 1]int32) []int32 {
	if len(piece) > maxPiece {
		return b.mergeLong(piece)
	}
	if len(piece) > scanMax {
		return b.mergeHeap(piece)
	}
	slot := &b.cache[h>>(64-cacheBits)] // the top bits: the table indexes with the bottom ones
	if c := slot.Load(); c != nil && c.piece == piece {
		return c.bounds
	}
	bounds := b.mergeScan(piece, buf[:len(piece)+1])
	// A copy of the piece, so that the cache does not keep the text alive.
	slot.Store(&cachedPiece{piece: strings.Clone(piece), bounds: slices.Clone(bounds)})
	return bounds
}

// cacheBits sets the size of the cache of merged pieces: 2^14 entries of
// at most 96 bytes of piece and 97 offsets each, so at most about 9 MB;
// ordinary text, whose merged pieces are short, uses much less.
const cacheBits = 14

type cachedPiece struct {
	piece  string
	bounds []int32
}

// rank returns the rank of the token s, or noRank.
func (b *BPE) rank(s string) uint32 {
	if len(s) == 2 {
		return b.pairs[int(s[0])<<8|int(s[1])]
	}
	return b.ranks.rank(s)
}

// scanMax is the longest piece merged by mergeScan, whose cost grows with
// the square of the length; longer ones go to mergeHeap.
const scanMax = 96

// mergeScan returns the boundaries of the tokens byte-pair encoding merges
// piece into: offsets from 0 to len(piece). It repeatedly merges the pair
// of adjacent parts that is the token of lowest rank, the leftmost of equal
// ones (tiktoken's algorithm). bounds must have len(piece)+1 elements.
func (b *BPE) mergeScan(piece string, bounds []int32) []int32 {
	var ranksBuf [scanMax + 1]uint32
	n := len(piece)
	ranks := ranksBuf[:n+1] // ranks[i]: the rank of parts i and i+1 merged
	for i := range n + 1 {
		bounds[i] = int32(i)
		ranks[i] = noRank
	}
	for i := 0; i+1 < n; i++ {
		ranks[i] = b.pairs[int(piece[i])<<8|int(piece[i+1])]
	}
	// rankAt is the rank of parts i, i+1 and i+2 merged into one: what
	// ranks[i] becomes once parts i and i+1 are merged.
	rankAt := func(i int) uint32 {
		if i+3 < len(bounds) {
			return b.rank(piece[bounds[i]:bounds[i+3]])
		}
		return noRank
	}
	for len(bounds) > 2 {
		best, at := noRank, -1
		for i, r := range ranks[:len(bounds)-2] {
			if r < best {
				best, at = r, i
			}
		}
		if at < 0 {
			break
		}
		ranks[at] = rankAt(at)
		if at > 0 {
			ranks[at-1] = rankAt(at - 1)
		}
		bounds = append(bounds[:at+1], bounds[at+2:]...)
		ranks = append(ranks[:at+1], ranks[at+2:]...)
	}
	return bounds
}

// maxPiece bounds the piece mergeHeap takes at once. No piece of real
// text comes near it (a word, a number, a run of punctuation or spaces);
// a longer one (a hostile upload that is one 20 MiB word) is merged in
// windows of maxPiece bytes, cut between characters, so that merging
// needs at most about 20 × maxPiece bytes (1.3 MB) rather than 20 bytes a
// byte of the piece. Its count may then differ from the provider's by a
// token a window; counts of every piece shorter than this stay exact.
const maxPiece = 64 << 10

// mergeLong merges a piece longer than maxPiece window by window.
func (b *BPE) mergeLong(piece string) []int32 {
	out := []int32{0}
	for start := 0; start < len(piece); {
		end := min(start+maxPiece, len(piece))
		for end < len(piece) && !utf8.RuneStart(piece[end]) {
			end--
		}
		for _, e := range b.mergeHeap(piece[start:end])[1:] {
			out = append(out, int32(start)+e)
		}
		start = end
	}
	return out
}

// mergeHeap returns what mergeScan would, in O(n log n) for a piece of n
// bytes: a long run of one character (a line of dashes, a base64 blob) is
// one piece, and mergeScan would take O(n²). It needs about 20 bytes of
// memory per byte of the piece while it works, so split hands it at most
// maxPiece bytes at a time.
func (b *BPE) mergeHeap(piece string) []int32 {
	n := int32(len(piece))
	// Parts form a linked list of their start offsets; rank[i] is the rank
	// of the part starting at i merged with the next one.
	next := make([]int32, n+1)
	prev := make([]int32, n+1)
	rank := make([]uint32, n+1)
	h := make(mergeHeap, 0, n)
	for i := range n + 1 {
		next[i], prev[i], rank[i] = i+1, i-1, noRank
		if i+1 < n {
			if r := b.pairs[int(piece[i])<<8|int(piece[i+1])]; r != noRank {
				rank[i] = r
				h = append(h, mergeCandidate{r, i})
			}
		}
	}
	next[n] = -1
	h.init()
	rankOf := func(i int32) uint32 {
		j := next[i]
		if j < 0 || next[j] < 0 {
			return noRank
		}
		return b.rank(piece[i:next[j]])
	}
	for len(h) > 0 {
		top := h.pop()
		i := top.start
		if rank[i] != top.rank {
			continue // stale: the part changed since this was pushed
		}
		j := next[i]
		k := next[j]
		rank[j] = noRank // j is merged into i
		next[i] = k
		if k >= 0 {
			prev[k] = i
		}
		for _, p := range [2]int32{i, prev[i]} {
			if p < 0 {
				continue
			}
			if rank[p] = rankOf(p); rank[p] != noRank {
				h.push(mergeCandidate{rank[p], p})
			}
		}
	}
	bounds := make([]int32, 0, n/2+2)
	for i := int32(0); i >= 0; i = next[i] {
		bounds = append(bounds, i)
	}
	return bounds
}

type mergeCandidate struct {
	rank  uint32
	start int32
}

// mergeHeap is a binary min-heap of candidates by rank, then offset, so
// that of equal ranks the leftmost pair merges first.
type mergeHeap []mergeCandidate

func (h mergeHeap) less(a, b int) bool {
	if h[a].rank != h[b].rank {
		return h[a].rank < h[b].rank
	}
	return h[a].start < h[b].start
}

func (h mergeHeap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h *mergeHeap) push(c mergeCandidate) {
	*h = append(*h, c)
	h.up(len(*h) - 1)
}

func (h *mergeHeap) pop() mergeCandidate {
	old := *h
	top := old[0]
	last := len(old) - 1
	old[0] = old[last]
	*h = old[:last]
	h.down(0)
	return top
}

func (h mergeHeap) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			return
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
}

func (h mergeHeap) down(i int) {
	for {
		child := 2*i + 1
		if child >= len(h) {
			return
		}
		if right := child + 1; right < len(h) && h.less(right, child) {
			child = right
		}
		if !h.less(child, i) {
			return
		}
		h[i], h[child] = h[child], h[i]
		i = child
	}
}

// Character classes of the cl100k pre-tokenizer pattern.
const (
	clsL  = 1 << iota // \p{L}
	clsN              // \p{N}
	clsS              // \s
	clsP1             // [^\r\n\p{L}\p{N}], the optional character before a word (but not DEL)
	clsP3             // [^\s\p{L}\p{N}], punctuation and symbols (but not DEL)
)

// asciiClass holds the classes of the ASCII characters.
var asciiClass = func() (t [utf8.RuneSelf]uint8) {
	for c := range t {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			t[c] = clsL
		case c >= '0' && c <= '9':
			t[c] = clsN
		case c == '\n', c == '\r':
			t[c] = clsS
		case c == ' ', c == '\t', c == '\v', c == '\f':
			t[c] = clsS | clsP1
		case c == 0x7f:
			// DEL: no class (see nextPiece).
		default:
			t[c] = clsP1 | clsP3
		}
	}
	return t
}()

// classAt returns the classes of the character at s[i] and its length. A
// byte that is not UTF-8 counts as U+FFFD, a symbol, as it does for the
// library's regular expression (which reads the text as runes).
func classAt(s string, i int) (uint8, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return asciiClass[c], 1
	}
	r, w := utf8.DecodeRuneInString(s[i:])
	switch {
	case unicode.IsLetter(r):
		return clsL, w
	case unicode.IsNumber(r):
		return clsN, w
	case unicode.IsSpace(r):
		return clsS | clsP1, w
	}
	return clsP1 | clsP3, w
}

// nextPiece returns the next piece of s at or after offset p that the
// cl100k pre-tokenizer cuts s into, or start == end == len(s) when there is
// none. Byte-pair merging happens within a piece, never across two.
//
// The pattern is
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// where the first alternative that matches wins. This is a hand-written
// matcher for it that never backtracks: each alternative is decided by
// looking at most one character past the run it matches, so a piece costs
// time in proportion to its length. It reproduces what the library's
// compiled expression (regexp2's generated code) does, including two places
// where that code and the pattern part ways, so that counts are the
// library's to the token:
//   - DEL (U+007F) is in none of the library's character sets, so it
//     matches no alternative and belongs to no piece; the pattern would
//     make it punctuation.
//   - \s*[\r\n]+ ends at the first run of line breaks in a run of white
//     space, where the pattern (backtracking from the end) would take the
//     last: "\n \n" is two pieces, "\n" and " \n", not one.
func nextPiece(s string, p int) (start, end int) {
	for p < len(s) {
		c0, w0 := classAt(s, p)
		if end := matchAt(s, p, c0, w0); end > p {
			return p, end
		}
		p += w0 // a character no alternative matches (DEL) is skipped
	}
	return len(s), len(s)
}

// matchAt returns the end of the piece that starts at p, whose first
// character has classes c0 and length w0, or p if no alternative matches.
func matchAt(s string, p int, c0 uint8, w0 int) int {
	// (?i:'s|'t|'re|'ve|'m|'ll|'d); the library's case folding also lets
	// 'ſ' (U+017F) stand for s.
	if s[p] == '\'' && p+1 < len(s) {
		switch s[p+1] {
		case 's', 'S', 't', 'T', 'm', 'M', 'd', 'D':
			return p + 2
		case 'r', 'R', 'v', 'V':
			if p+2 < len(s) && s[p+2]|0x20 == 'e' {
				return p + 3
			}
		case 'l', 'L':
			if p+2 < len(s) && s[p+2]|0x20 == 'l' {
				return p + 3
			}
		case 0xc5: // ſ is C5 BF
			if p+2 < len(s) && s[p+2] == 0xbf {
				return p + 3
			}
		}
	}
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if c0&clsL != 0 {
		return run(s, p+w0, clsL)
	}
	if c0&clsP1 != 0 && p+w0 < len(s) {
		if c1, w1 := classAt(s, p+w0); c1&clsL != 0 {
			return run(s, p+w0+w1, clsL)
		}
	}
	// \p{N}{1,3}
	if c0&clsN != 0 {
		q := p + w0
		for range 2 {
			if q == len(s) {
				break
			}
			c, w := classAt(s, q)
			if c&clsN == 0 {
				break
			}
			q += w
		}
		return q
	}
	//  ?[^\s\p{L}\p{N}]+[\r\n]*
	q, c, w := p, c0, w0
	if s[p] == ' ' && p+1 < len(s) {
		q = p + 1
		c, w = classAt(s, q)
	}
	if c&clsP3 != 0 {
		q = run(s, q+w, clsP3)
		for q < len(s) && (s[q] == '\n' || s[q] == '\r') {
			q++
		}
		return q
	}
	if c0&clsS == 0 {
		return p
	}
	// \s*[\r\n]+ (up to the first line breaks; see nextPiece), else
	// \s+(?!\S), else \s+.
	last := p // the start of the run's last character
	for q = p; q < len(s); {
		if s[q] == '\n' || s[q] == '\r' {
			for q < len(s) && (s[q] == '\n' || s[q] == '\r') {
				q++
			}
			return q
		}
		c, w := classAt(s, q)
		if c&clsS == 0 {
			break
		}
		last = q
		q += w
	}
	if q < len(s) && last > p {
		return last // leave the last space to the word after it
	}
	return q
}

// run returns the end of the run of characters of class cls from i.
func run(s string, i int, cls uint8) int {
	for i < len(s) {
		if c := s[i]; c < utf8.RuneSelf {
			if asciiClass[c]&cls == 0 {
				return i
			}
			i++
			continue
		}
		c, w := classAt(s, i)
		if c&cls == 0 {
			return i
		}
		i += w
	}
	return i
}
