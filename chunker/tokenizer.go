package chunker

import (
	"strings"
	"unicode/utf8"

	"github.com/tiktoken-go/tokenizer"
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

// BPE is a byte-pair-encoding tokenizer (tiktoken's vocabularies, embedded
// in the binary: nothing is downloaded).
type BPE struct {
	codec tokenizer.Codec
}

// NewCL100K returns the cl100k_base tokenizer of OpenAI's text-embedding-3
// and ada-002 models. It takes some time: build one and share it.
//
// It links cl100k_base alone: tokenizer.Get would link all four of the
// library's vocabularies (about 8 MB more in the binary).
func NewCL100K() (*BPE, error) {
	return &BPE{codec: codec.NewCl100kBase()}, nil
}

// Limits of one piece handed to the BPE: byte-pair merging is quadratic in
// the length of a run without a split point (32k identical characters take
// over a second), so long lines are cut before a space and long runs
// without spaces every maxRun bytes. Cutting can only add tokens, so
// counts stay an upper bound of what the provider counts.
const (
	maxSegment = 2048
	maxRun     = 128
)

// segments calls yield with consecutive pieces of s that cover it.
func segments(s string, yield func(seg string, start int)) {
	start, run := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\n':
			yield(s[start:i+1], start)
			start, run = i+1, i+1
		case c == ' ' || c == '\t':
			if i-start >= maxSegment {
				yield(s[start:i], start) // the space starts the next piece, as BPE would
				start = i
			}
			run = i + 1
		default:
			if i-run >= maxRun && utf8.RuneStart(c) {
				yield(s[start:i], start)
				start, run = i, i
			}
		}
	}
	if start < len(s) {
		yield(s[start:], start)
	}
}

// Offsets implements Tokenizer.
func (b *BPE) Offsets(dst []int32, s string) []int32 {
	segments(s, func(seg string, start int) {
		_, toks, _ := b.codec.Encode(seg) // cannot fail in the default error mode
		// The tokens are pieces of seg in order, but the library's
		// pre-tokenizer skips a few characters it matches no pattern for
		// (DEL, for one): find each token rather than add up lengths, and
		// let skipped bytes join the token before them.
		pos := 0
		for _, t := range toks {
			i := strings.Index(seg[pos:], t)
			if i < 0 {
				break
			}
			pos += i + len(t)
			dst = append(dst, int32(start+pos))
		}
		if pos < len(seg) {
			dst = append(dst, int32(start+len(seg)))
		}
	})
	return dst
}

// Count implements Tokenizer.
func (b *BPE) Count(s string) int {
	n := 0
	segments(s, func(seg string, _ int) {
		c, _ := b.codec.Count(seg)
		n += c
	})
	return n
}
