package embedder

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Cached wraps an Embedder with a Postgres cache keyed by (tenant, model,
// dimensions, SHA-256 of the text): a text a tenant embedded once is never
// sent again for that tenant, whichever of its documents or searches it
// comes from, and identical texts in one call are sent once.
//
// Entries are never shared between tenants, although a text embeds the
// same for everyone: a hit shows in what the tenant sees (a document's
// embedding_tokens and embedding_cache_hits, a search's usage and
// Server-Timing), so a shared entry would tell tenant B that tenant A had
// ingested or searched that exact text. Entries go with their tenant.
type Cached struct {
	inner Embedder
	pool  *pgxpool.Pool
}

// NewCached returns inner with a cache in pool.
func NewCached(inner Embedder, pool *pgxpool.Pool) *Cached {
	return &Cached{inner: inner, pool: pool}
}

// Model implements Embedder.
func (c *Cached) Model() string { return c.inner.Model() }

// Dimensions implements Embedder.
func (c *Cached) Dimensions() int { return c.inner.Dimensions() }

// Embed implements Embedder: it answers from tenantID's entries only,
// embeds the rest through the inner embedder and stores them for tenantID.
// tenantID must name an existing tenant.
func (c *Cached) Embed(ctx context.Context, tenantID uuid.UUID, texts []string) (Result, error) {
	if tenantID == uuid.Nil {
		return Result{}, errors.New("embedding cache: no tenant")
	}
	dims := c.inner.Dimensions()
	keys := make([][]byte, len(texts))
	for i, t := range texts {
		sum := sha256.Sum256([]byte(t))
		keys[i] = sum[:]
	}
	found := map[[32]byte][]float32{}
	rows, err := c.pool.Query(ctx, `SELECT sha256, vector FROM embedding_cache
		WHERE tenant_id = $1 AND model = $2 AND dimensions = $3 AND sha256 = ANY($4)`, tenantID, c.inner.Model(), dims, keys)
	if err != nil {
		return Result{}, fmt.Errorf("read embedding cache: %w", err)
	}
	for rows.Next() {
		var k, v []byte
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return Result{}, fmt.Errorf("read embedding cache: %w", err)
		}
		if vec, ok := decodeVector(v, dims); ok && len(k) == 32 {
			found[[32]byte(k)] = vec
		}
	}
	if err := rows.Err(); err != nil {
		return Result{}, fmt.Errorf("read embedding cache: %w", err)
	}

	res := Result{Vectors: make([][]float32, len(texts))}
	var missTexts []string
	var missKeys [][]byte
	pending := map[[32]byte][]int{} // texts waiting for each missing key
	for i, k := range keys {
		key := [32]byte(k)
		if v, ok := found[key]; ok {
			res.Vectors[i] = v
			res.CacheHits++
			continue
		}
		if _, ok := pending[key]; !ok {
			missTexts = append(missTexts, texts[i])
			missKeys = append(missKeys, k)
		}
		pending[key] = append(pending[key], i)
	}
	if len(missTexts) == 0 {
		return res, nil
	}
	got, err := c.inner.Embed(ctx, tenantID, missTexts)
	res.Requests, res.Tokens = got.Requests, got.Tokens
	if err != nil {
		return res, err
	}
	enc := make([][]byte, len(missTexts))
	for j, v := range got.Vectors {
		for _, i := range pending[[32]byte(missKeys[j])] {
			res.Vectors[i] = v
		}
		enc[j] = encodeVector(v)
	}
	if _, err := c.pool.Exec(ctx, `INSERT INTO embedding_cache (tenant_id, model, dimensions, sha256, vector)
		SELECT $1, $2, $3, k, v FROM unnest($4::bytea[], $5::bytea[]) AS t(k, v)
		ON CONFLICT DO NOTHING`, tenantID, c.inner.Model(), dims, missKeys, enc); err != nil {
		return res, fmt.Errorf("write embedding cache: %w", err)
	}
	return res, nil
}

func encodeVector(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func decodeVector(b []byte, dims int) ([]float32, bool) {
	if len(b) != 4*dims {
		return nil, false
	}
	v := make([]float32, dims)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, true
}
