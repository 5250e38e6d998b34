package search

import (
	"slices"
	"strings"
	"unicode"

	"github.com/kljensen/snowball/english"
	"github.com/twmb/murmur3"
)

// SparseVector is a sparse vector: sorted, distinct indices and their
// values.
type SparseVector struct {
	Indices []uint32  `json:"indices"`
	Values  []float32 `json:"values"`
}

// BM25 parameters, as FastEmbed's Qdrant/bm25 model uses them: k1 = 1.2,
// b = 0.75, and an average document length of 256 terms (chunks are
// token-bounded, so a fixed average is close to the truth and keeps a
// chunk's vector independent of its neighbours).
const (
	bm25K1       = 1.2
	bm25B        = 0.75
	bm25AvgLen   = 256.0
	maxTermBytes = 40
)

// Terms tokenizes text the way FastEmbed's BM25 does: every character
// that is not a letter, a digit or '_' separates terms; terms are
// lowercased; English stop words and terms over 40 bytes are dropped; the
// rest are stemmed with the Snowball English stemmer.
func Terms(text string) []string { return DefaultBM25.Terms(text) }

// BM25 holds the parameters of the sparse vectors. DefaultBM25 is what
// ragd indexes with; the others exist to measure alternatives (make eval).
type BM25 struct {
	K1, B, AvgLen float64
	// NoStem keeps words unstemmed; KeepStopWords indexes stop words.
	NoStem, KeepStopWords bool
}

// DefaultBM25 is FastEmbed's: k1 = 1.2, b = 0.75, an average length of 256
// terms, stemming and stop words dropped.
var DefaultBM25 = BM25{K1: bm25K1, B: bm25B, AvgLen: bm25AvgLen}

// Terms tokenizes text (see the package function Terms) with p's choices.
func (p BM25) Terms(text string) []string {
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r) && r != '_'
	})
	out := words[:0]
	for _, w := range words {
		if len(w) > maxTermBytes || (!p.KeepStopWords && stopWords[w]) {
			continue
		}
		if p.NoStem {
			out = append(out, w)
		} else if s := english.Stem(w, false); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Document is the document side of p (see DocumentSparse).
func (p BM25) Document(text string) SparseVector {
	terms := p.Terms(text)
	tf := map[uint32]float64{}
	for _, t := range terms {
		tf[TermIndex(t)]++
	}
	norm := p.K1 * (1 - p.B + p.B*float64(len(terms))/p.AvgLen)
	return fromMap(tf, func(n float64) float32 { return float32(n * (p.K1 + 1) / (n + norm)) })
}

// Query is the query side of p (see QuerySparse).
func (p BM25) Query(text string) SparseVector {
	tf := map[uint32]float64{}
	for _, t := range p.Terms(text) {
		tf[TermIndex(t)] = 1
	}
	return fromMap(tf, func(float64) float32 { return 1 })
}

// TermIndex is a term's dimension: the absolute value of its 32-bit
// MurmurHash3 (x86, seed 0) read as a signed integer, as FastEmbed and
// Qdrant's own bm25 model compute it.
func TermIndex(term string) uint32 {
	h := int32(murmur3.Sum32([]byte(term)))
	if h < 0 {
		return uint32(-int64(h))
	}
	return uint32(h)
}

// DocumentSparse is the BM25 document side: for each term, its frequency
// saturated and normalised by the document's length,
// tf·(k1+1) / (tf + k1·(1 − b + b·|d|/avg)). IDF is left to the store,
// which knows the collection (Qdrant's IDF modifier; the embedded store
// computes it per tenant).
func DocumentSparse(text string) SparseVector { return DefaultBM25.Document(text) }

// QuerySparse is the BM25 query side: 1 for each distinct term.
func QuerySparse(text string) SparseVector { return DefaultBM25.Query(text) }

func fromMap(m map[uint32]float64, value func(float64) float32) SparseVector {
	v := SparseVector{Indices: make([]uint32, 0, len(m)), Values: make([]float32, 0, len(m))}
	for i := range m {
		v.Indices = append(v.Indices, i)
	}
	slices.Sort(v.Indices)
	for _, i := range v.Indices {
		v.Values = append(v.Values, value(m[i]))
	}
	return v
}

// stopWords is the English list FastEmbed's BM25 drops (NLTK's).
var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`i me my myself we our ours ourselves you you're you've you'll you'd your
	yours yourself yourselves he him his himself she she's her hers herself it it's its itself they them their
	theirs themselves what which who whom this that that'll these those am is are was were be been being have has
	had having do does did doing a an the and but if or because as until while of at by for with about against
	between into through during before after above below to from up down in out on off over under again further
	then once here there when where why how all any both each few more most other some such no nor not only own
	same so than too very s t can will just don don't should should've now d ll m o re ve y ain aren aren't couldn
	couldn't didn didn't doesn doesn't hadn hadn't hasn hasn't haven haven't isn isn't ma mightn mightn't mustn
	mustn't needn needn't shan shan't shouldn shouldn't wasn wasn't weren weren't won won't wouldn wouldn't`) {
		m[w] = true
	}
	return m
}()
