package embedder

import (
	"context"
	"errors"
	"hash/fnv"
	"math"
	"strings"
	"unicode"

	"github.com/google/uuid"
)

// Local is a deterministic hashing embedder: each word and each character
// trigram of a word is hashed to a dimension and a sign (the "hashing
// trick"), and the vector is L2-normalised. Texts that share words and
// word pieces get a high cosine similarity, so retrieval works lexically
// without a model or a network. It is a stand-in until a real model is
// configured, and says so in the logs.
type Local struct {
	dims int
	// weight, when set, scales each word's features (NewLocalWeighted).
	weight func(word string) float64
	model  string
}

// LocalModel is the model name Local reports (and caches under).
const LocalModel = "ragd-local-hash-v1"

// NewLocal returns a Local embedder of dims dimensions.
func NewLocal(dims int) (*Local, error) {
	if dims < 8 || dims > 16384 {
		return nil, errors.New("embedder: local dimensions must be between 8 and 16384")
	}
	return &Local{dims: dims, model: LocalModel}, nil
}

// NewLocalWeighted is Local with each word's features (the word and its
// trigrams) scaled by weight(word), for experiments with word weighting
// (scripts/evalman -sif); model names it. ragd itself uses NewLocal.
func NewLocalWeighted(dims int, model string, weight func(word string) float64) (*Local, error) {
	l, err := NewLocal(dims)
	if err != nil {
		return nil, err
	}
	l.model, l.weight = model, weight
	return l, nil
}

// Model implements Embedder.
func (l *Local) Model() string { return l.model }

// Dimensions implements Embedder.
func (l *Local) Dimensions() int { return l.dims }

// Embed implements Embedder. A text's vector depends on the text alone.
func (l *Local) Embed(ctx context.Context, _ uuid.UUID, texts []string) (Result, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		if i%256 == 0 && ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		out[i] = l.vector(t)
	}
	return Result{Vectors: out}, nil
}

func (l *Local) vector(text string) []float32 {
	v := make([]float64, l.dims)
	add := func(feature string, weight float64) {
		h := fnv.New64a()
		h.Write([]byte(feature))
		sum := h.Sum64()
		i := int(sum % uint64(l.dims))
		if sum>>63 == 1 {
			weight = -weight
		}
		v[i] += weight
	}
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) }) {
		wt := 1.0
		if l.weight != nil {
			wt = l.weight(w)
		}
		add("w:"+w, wt)
		r := []rune("^" + w + "$")
		for i := 0; i+3 <= len(r); i++ {
			add("c:"+string(r[i:i+3]), 0.5*wt)
		}
	}
	var norm float64
	for _, x := range v {
		norm += x * x
	}
	out := make([]float32, l.dims)
	if norm == 0 {
		return out
	}
	norm = math.Sqrt(norm)
	for i, x := range v {
		out[i] = float32(x / norm)
	}
	return out
}
