package search_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/uuid"

	"github.com/ragd/ragd/search"
	"github.com/ragd/ragd/search/storetest"
)

func openEmbedded(t *testing.T, dir string) *search.Embedded {
	t.Helper()
	s, err := search.OpenEmbedded(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestEmbeddedConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) search.VectorStore {
		s := openEmbedded(t, t.TempDir())
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestEmbeddedDurability(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("ReopenKeepsEverythingAcknowledged", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		s := openEmbedded(t, dir)
		tenant, d1, d2 := uuid.New(), uuid.New(), uuid.New()
		must(t, s.EnsureSchema(ctx, storetest.Dims))
		must(t, s.Upsert(ctx, tenant, storetest.Points(tenant, d1, 1, 7, "a", nil)))
		must(t, s.Upsert(ctx, tenant, storetest.Points(tenant, d2, 1, 5, "b", nil)))
		must(t, s.DeleteDocument(ctx, tenant, d2, search.AllVersions))
		s.Close()

		// A crash in the middle of a write leaves a torn record at the end.
		log := filepath.Join(dir, "points.log")
		f, err := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
		must(t, err)
		f.Write([]byte{200, 0, 0, 0, 1, 2, 3, 4, 2, 'p', 'a', 'r'})
		f.Close()

		s = openEmbedded(t, dir)
		defer s.Close()
		if n, _ := s.Count(ctx, tenant, search.Filter{}); n != 7 {
			t.Fatalf("after reopening: %d points, want 7", n)
		}
		// Writes after the cut land where replay will find them.
		must(t, s.Upsert(ctx, tenant, storetest.Points(tenant, uuid.New(), 1, 2, "c", nil)))
		s.Close()
		s = openEmbedded(t, dir)
		defer s.Close()
		if n, _ := s.Count(ctx, tenant, search.Filter{}); n != 9 {
			t.Fatalf("after a write past a torn tail and reopening: %d points, want 9", n)
		}
		if err := s.EnsureSchema(ctx, storetest.Dims+1); err == nil {
			t.Fatal("the reopened store forgot its dimensions")
		}
	})

	t.Run("OneProcessAtATime", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		s := openEmbedded(t, dir)
		defer s.Close()
		if _, err := search.OpenEmbedded(dir); !errors.Is(err, search.ErrInUse) {
			t.Fatalf("a second open of the same directory: %v, want ErrInUse", err)
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
