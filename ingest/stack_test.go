package ingest_test

import (
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ragd/ragd/agents"
	"github.com/ragd/ragd/chunker/chunkertest"
	"github.com/ragd/ragd/extract/sandbox/sandboxtest"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/jobs"
	"github.com/ragd/ragd/search"
	"github.com/ragd/ragd/spaces"
)

// stack is the part of ragd the ingest tests drive by hand, wired as
// server.New wires it: the control plane, a job queue that only enqueues
// (the tests do the jobs' work themselves), the documents store and,
// given the indexes of the embedding spaces, the spaces service.
type stack struct {
	pool    *pgxpool.Pool
	tenants *agents.ControlPlane
	queue   *jobs.Queue
	docs    *ingest.Documents
	spaces  *spaces.Service // nil without indexes: nothing is embedded
}

func newStack(t testing.TB, pool *pgxpool.Pool, idx *search.Indexes, opts ...ingest.StoreOption) *stack {
	t.Helper()
	q, err := jobs.New(pool, jobs.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	cp := agents.NewControlPlane(pool, nil, q)
	st := &stack{pool: pool, tenants: cp, queue: q, docs: ingest.NewDocuments(pool, cp, q, opts...)}
	if idx != nil {
		t.Cleanup(func() { idx.Close() })
		if st.spaces, err = spaces.New(pool, spaces.Config{Tenants: cp, Indexes: idx, Documents: st.docs, Jobs: q}); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// pipeline returns a pipeline on the stack's documents that embeds into
// its spaces (nothing without them), closed when the test ends.
func (st *stack) pipeline(t testing.TB, cfg ingest.PipelineConfig) *ingest.Pipeline {
	t.Helper()
	cfg.Spaces = st.spaces
	if cfg.Sandbox == nil {
		cfg.Sandbox = sandboxtest.Pool()
	}
	p, err := ingest.NewPipeline(st.docs, chunkertest.CL100K(t), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}
