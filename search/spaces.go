package search

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/ragd/ragd/embedder"
)

// Space is an embedding space: one model at one dimension count. Vectors
// of two spaces are never compared, so each space has its own index.
type Space struct {
	Model      string `json:"model"`
	Dimensions int    `json:"dimensions"`
}

func (s Space) String() string { return fmt.Sprintf("%s@%d", s.Model, s.Dimensions) }

// IsZero reports whether s names no space (a tenant on the default).
func (s Space) IsZero() bool { return s == Space{} }

// Or is s, or def when s is zero (a tenant on the default).
func (s Space) Or(def Space) Space {
	if s.IsZero() {
		return def
	}
	return s
}

// Slug is the space as a name for a collection or a directory: the model's
// letters, digits, '-' and '_' (others become '_'), then the dimensions,
// then, when the model had other characters, a hash of its exact name
// (so that "org/model" and "org_model" do not share an index).
func (s Space) Slug() string {
	m := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '_'
	}, s.Model)
	if m != s.Model {
		sum := sha256.Sum256([]byte(s.Model))
		return fmt.Sprintf("%s_%d_%x", m, s.Dimensions, sum[:4])
	}
	return fmt.Sprintf("%s_%d", m, s.Dimensions)
}

// Index is a space's embedder and the store of its points.
type Index struct {
	Space    Space
	Embedder embedder.Embedder
	Store    VectorStore
}

// OpenFunc opens the index of a space other than the default: an embedder
// of that model and dimensions and a store that holds that space alone.
// It returns an error wrapping ErrUnknownSpace for a space the server
// cannot embed in.
type OpenFunc func(ctx context.Context, sp Space) (Index, error)

// ErrUnknownSpace: the server cannot open the space (the local embedder
// has one model; RAGD_EMBEDDING_MODELS lists the others allowed).
var ErrUnknownSpace = errors.New("embedding space not available")

// Indexes holds the index of every space in use: the default, given at
// start, and the others, opened on first use and kept until Close.
type Indexes struct {
	def  Index
	open OpenFunc

	mu     sync.Mutex
	opened map[Space]*opening
}

type opening struct {
	done chan struct{}
	idx  Index
	err  error
}

// NewIndexes returns the spaces of a server whose default index is def;
// open opens the others (nil: there are none).
func NewIndexes(def Index, open OpenFunc) *Indexes {
	def.Space = Space{Model: def.Embedder.Model(), Dimensions: def.Embedder.Dimensions()}
	return &Indexes{def: def, open: open, opened: map[Space]*opening{}}
}

// SingleIndex returns Spaces with the default index alone.
func SingleIndex(emb embedder.Embedder, store VectorStore) *Indexes {
	return NewIndexes(Index{Embedder: emb, Store: store}, nil)
}

// Default is the index of tenants that never migrated.
func (s *Indexes) Default() Index { return s.def }

// Get returns the index of sp (the zero Space: the default), opening it
// and preparing its store for sp's dimensions the first time. A failed
// open is not remembered: the next Get tries again.
func (s *Indexes) Get(ctx context.Context, sp Space) (Index, error) {
	if sp.IsZero() || sp == s.def.Space {
		return s.def, nil
	}
	if s.open == nil {
		return Index{}, fmt.Errorf("%w: %s (this server embeds with %s alone)", ErrUnknownSpace, sp, s.def.Space)
	}
	s.mu.Lock()
	o, ok := s.opened[sp]
	if !ok {
		o = &opening{done: make(chan struct{})}
		s.opened[sp] = o
		s.mu.Unlock()
		o.idx, o.err = s.openIndex(ctx, sp)
		if o.err != nil {
			s.mu.Lock()
			delete(s.opened, sp)
			s.mu.Unlock()
		}
		close(o.done)
	} else {
		s.mu.Unlock()
	}
	select {
	case <-o.done:
	case <-ctx.Done():
		return Index{}, ctx.Err()
	}
	return o.idx, o.err
}

func (s *Indexes) openIndex(ctx context.Context, sp Space) (Index, error) {
	idx, err := s.open(ctx, sp)
	if err != nil {
		return Index{}, err
	}
	if m, d := idx.Embedder.Model(), idx.Embedder.Dimensions(); m != sp.Model || d != sp.Dimensions {
		idx.Store.Close()
		return Index{}, fmt.Errorf("open %s: the embedder is %s@%d", sp, m, d)
	}
	if err := idx.Store.EnsureSchema(ctx, sp.Dimensions); err != nil {
		idx.Store.Close()
		return Index{}, fmt.Errorf("open %s: %w", sp, err)
	}
	idx.Space = sp
	return idx, nil
}

// Close closes the stores Spaces opened (not the default's, which the
// caller gave and closes).
func (s *Indexes) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for sp, o := range s.opened {
		select {
		case <-o.done:
			if o.err == nil {
				errs = append(errs, o.idx.Store.Close())
			}
		default: // still opening: its opener's store stays with it
		}
		delete(s.opened, sp)
	}
	return errors.Join(errs...)
}
