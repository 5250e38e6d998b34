package search

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc"
)

// Qdrant keeps all tenants' points in one collection, as Qdrant's
// multitenancy guidance advises: a keyword index on tenant_id with
// is_tenant (Qdrant then lays points out by tenant), HNSW built per tenant
// (m 0 with payload_m 16), and a must-filter on tenant_id in every query,
// count and delete this type sends.
//
// Sparse scores use Qdrant's IDF modifier, computed over the whole
// collection: a tenant's BM25 ranking depends slightly on other tenants'
// term statistics (the embedded store computes IDF per tenant).
type Qdrant struct {
	client     *qdrant.Client
	collection string
	mu         sync.RWMutex
	dims       int
}

// Vector names in the collection.
const (
	denseName  = "dense"
	sparseName = "sparse"
)

// QdrantConfig locates a Qdrant server.
type QdrantConfig struct {
	// URL of the gRPC endpoint, e.g. http://localhost:6334 (https for TLS).
	URL        string
	APIKey     string
	Collection string // default "ragd_chunks"
	// MaxMessageBytes raises gRPC's 4 MiB limit on responses (default 64 MiB).
	MaxMessageBytes int
}

// OpenQdrant connects to Qdrant.
func OpenQdrant(cfg QdrantConfig) (*Qdrant, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Hostname() == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("QDRANT_URL: must look like http://host:6334, not %q", cfg.URL)
	}
	port := 6334
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("QDRANT_URL: bad port %q", p)
		}
	}
	maxMsg := cfg.MaxMessageBytes
	if maxMsg == 0 {
		maxMsg = 64 << 20
	}
	client, err := qdrant.NewClient(&qdrant.Config{
		Host: u.Hostname(), Port: port, APIKey: cfg.APIKey, UseTLS: u.Scheme == "https",
		SkipCompatibilityCheck: true, PoolSize: 1,
		GrpcOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMsg), grpc.MaxCallSendMsgSize(maxMsg))},
	})
	if err != nil {
		return nil, fmt.Errorf("connect to Qdrant: %w", err)
	}
	coll := cfg.Collection
	if coll == "" {
		coll = "ragd_chunks"
	}
	return &Qdrant{client: client, collection: coll}, nil
}

// EnsureSchema implements Store: it creates the collection and its payload
// indexes, or checks that an existing collection has dims dimensions.
func (s *Qdrant) EnsureSchema(ctx context.Context, dims int) error {
	exists, err := s.client.CollectionExists(ctx, s.collection)
	if err != nil {
		return fmt.Errorf("qdrant: %w", err)
	}
	if exists {
		info, err := s.client.GetCollectionInfo(ctx, s.collection)
		if err != nil {
			return fmt.Errorf("qdrant: %w", err)
		}
		params := info.GetConfig().GetParams().GetVectorsConfig().GetParamsMap().GetMap()[denseName]
		if params == nil {
			return fmt.Errorf("qdrant: collection %s has no %q vector; it was not made by ragd", s.collection, denseName)
		}
		if int(params.GetSize()) != dims {
			return fmt.Errorf("%w: Qdrant collection %s holds %d-dimensional vectors, the embedder makes %d; use another RAGD_QDRANT_COLLECTION and run ragd reindex",
				ErrDimensions, s.collection, params.GetSize(), dims)
		}
	} else {
		zero, sixteen := uint64(0), uint64(16)
		err := s.client.CreateCollection(ctx, &qdrant.CreateCollection{
			CollectionName: s.collection,
			VectorsConfig: qdrant.NewVectorsConfigMap(map[string]*qdrant.VectorParams{
				denseName: {Size: uint64(dims), Distance: qdrant.Distance_Cosine},
			}),
			SparseVectorsConfig: qdrant.NewSparseVectorsConfig(map[string]*qdrant.SparseVectorParams{
				sparseName: {Modifier: qdrant.Modifier_Idf.Enum()},
			}),
			// Per-tenant graphs: no global graph, one per tenant_id value.
			HnswConfig: &qdrant.HnswConfigDiff{M: &zero, PayloadM: &sixteen},
		})
		if err != nil {
			return fmt.Errorf("qdrant: create collection %s: %w", s.collection, err)
		}
		wait, isTenant := true, true
		for _, f := range []struct {
			name   string
			tenant bool
		}{{"tenant_id", true}, {"document_id", false}, {"tags", false}} {
			params := &qdrant.KeywordIndexParams{}
			if f.tenant {
				params.IsTenant = &isTenant
			}
			_, err := s.client.CreateFieldIndex(ctx, &qdrant.CreateFieldIndexCollection{
				CollectionName: s.collection, Wait: &wait, FieldName: f.name,
				FieldType: qdrant.FieldType_FieldTypeKeyword.Enum(), FieldIndexParams: qdrant.NewPayloadIndexParamsKeyword(params),
			})
			if err != nil {
				return fmt.Errorf("qdrant: index %s: %w", f.name, err)
			}
		}
	}
	s.mu.Lock()
	s.dims = dims
	s.mu.Unlock()
	return nil
}

func (s *Qdrant) dimensions() (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.dims == 0 {
		return 0, errors.New("qdrant: EnsureSchema first")
	}
	return s.dims, nil
}

// Upsert implements Store; it waits until Qdrant has applied the points.
func (s *Qdrant) Upsert(ctx context.Context, tenantID uuid.UUID, points []Point) error {
	dims, err := s.dimensions()
	if err != nil {
		return err
	}
	if err := validatePoints(tenantID, dims, points); err != nil {
		return err
	}
	structs := make([]*qdrant.PointStruct, len(points))
	for i, p := range points {
		payload, err := pointPayload(p)
		if err != nil {
			return err
		}
		structs[i] = &qdrant.PointStruct{
			Id: qdrant.NewIDUUID(p.ID.String()),
			Vectors: qdrant.NewVectorsMap(map[string]*qdrant.Vector{
				denseName:  qdrant.NewVectorDense(p.Dense),
				sparseName: qdrant.NewVectorSparse(p.Sparse.Indices, p.Sparse.Values),
			}),
			Payload: payload,
		}
	}
	wait := true
	if _, err := s.client.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: s.collection, Wait: &wait, Points: structs}); err != nil {
		return qdrantErr("upsert", err)
	}
	return nil
}

// pointPayload builds a point's payload. Lists are built value by value:
// qdrant.NewValueMap panics on []string.
func pointPayload(p Point) (map[string]*qdrant.Value, error) {
	fields := make(map[string]*qdrant.Value, len(p.Metadata))
	for k, v := range p.Metadata {
		switch x := v.(type) {
		case string:
			fields[k] = qdrant.NewValueString(x)
		case bool:
			fields[k] = qdrant.NewValueBool(x)
		default:
			n, ok := toFloat(v)
			if !ok {
				return nil, fmt.Errorf("qdrant: metadata %q is not a string, number or boolean", k)
			}
			// Whole numbers as integers, so that an integer match finds them.
			if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
				fields[k] = qdrant.NewValueInt(int64(n))
			} else {
				fields[k] = qdrant.NewValueDouble(n)
			}
		}
	}
	meta := &qdrant.Struct{Fields: fields}
	payload := map[string]*qdrant.Value{
		"tenant_id":       qdrant.NewValueString(p.TenantID.String()),
		"document_id":     qdrant.NewValueString(p.DocumentID.String()),
		"chunk_id":        qdrant.NewValueString(p.ID.String()),
		"content_version": qdrant.NewValueInt(int64(p.ContentVersion)),
		"index":           qdrant.NewValueInt(int64(p.Index)),
		"title":           qdrant.NewValueString(p.Title),
		"text":            qdrant.NewValueString(p.Text),
		"tags":            stringList(p.Tags),
		"heading_path":    stringList(p.HeadingPath),
		"page_start":      qdrant.NewValueInt(int64(p.PageStart)),
		"page_end":        qdrant.NewValueInt(int64(p.PageEnd)),
		"metadata":        qdrant.NewValueStruct(meta),
		"char_start":      qdrant.NewValueInt(int64(p.CharStart)),
		"char_end":        qdrant.NewValueInt(int64(p.CharEnd)),
	}
	if len(p.Sections) > 0 {
		payload["sections"] = sectionsValue(p.Sections)
	}
	return payload, nil
}

// sectionsValue is a chunk's sections as a payload list of
// {heading_path, char_start, char_end, page_start, page_end} (the pages
// left out when zero).
func sectionsValue(ss []Section) *qdrant.Value {
	vals := make([]*qdrant.Value, len(ss))
	for i, sec := range ss {
		fields := map[string]*qdrant.Value{
			"heading_path": stringList(sec.HeadingPath),
			"char_start":   qdrant.NewValueInt(int64(sec.CharStart)),
			"char_end":     qdrant.NewValueInt(int64(sec.CharEnd)),
		}
		if sec.PageStart > 0 {
			fields["page_start"] = qdrant.NewValueInt(int64(sec.PageStart))
			fields["page_end"] = qdrant.NewValueInt(int64(sec.PageEnd))
		}
		vals[i] = qdrant.NewValueStruct(&qdrant.Struct{Fields: fields})
	}
	return qdrant.NewValueFromList(vals...)
}

// sectionsOf reads sectionsValue back (nil when the payload has none).
func sectionsOf(v *qdrant.Value) []Section {
	var out []Section
	for _, x := range v.GetListValue().GetValues() {
		f := x.GetStructValue().GetFields()
		out = append(out, Section{HeadingPath: listOf(f["heading_path"]),
			CharStart: int(f["char_start"].GetIntegerValue()), CharEnd: int(f["char_end"].GetIntegerValue()),
			PageStart: int(f["page_start"].GetIntegerValue()), PageEnd: int(f["page_end"].GetIntegerValue())})
	}
	return out
}

func stringList(ss []string) *qdrant.Value {
	vals := make([]*qdrant.Value, len(ss))
	for i, s := range ss {
		vals[i] = qdrant.NewValueString(s)
	}
	return qdrant.NewValueFromList(vals...)
}

// filter is the tenant condition plus f's.
func (f Filter) qdrant(tenantID uuid.UUID) *qdrant.Filter {
	must := []*qdrant.Condition{qdrant.NewMatchKeyword("tenant_id", tenantID.String())}
	if len(f.DocumentIDs) > 0 {
		ids := make([]string, len(f.DocumentIDs))
		for i, id := range f.DocumentIDs {
			ids[i] = id.String()
		}
		must = append(must, qdrant.NewMatchKeywords("document_id", ids...))
	}
	if len(f.TagsAny) > 0 {
		must = append(must, qdrant.NewMatchKeywords("tags", f.TagsAny...))
	}
	for _, t := range f.TagsAll {
		must = append(must, qdrant.NewMatchKeyword("tags", t))
	}
	for k, v := range f.Metadata {
		key := "metadata." + k
		switch x := v.(type) {
		case string:
			must = append(must, qdrant.NewMatchKeyword(key, x))
		case bool:
			must = append(must, qdrant.NewMatchBool(key, x))
		default:
			n, ok := toFloat(v)
			if !ok {
				continue // not a JSON scalar: validation upstream refuses it
			}
			if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
				must = append(must, qdrant.NewMatchInt(key, int64(n)))
			} else {
				must = append(must, qdrant.NewRange(key, &qdrant.Range{Gte: &n, Lte: &n}))
			}
		}
	}
	return &qdrant.Filter{Must: must}
}

// DeleteDocument implements Store.
func (s *Qdrant) DeleteDocument(ctx context.Context, tenantID, documentID uuid.UUID, v Versions) error {
	f := Filter{DocumentIDs: []uuid.UUID{documentID}}.qdrant(tenantID)
	switch {
	case v.Only != 0:
		f.Must = append(f.Must, qdrant.NewMatchInt("content_version", int64(v.Only)))
	case v.Below != 0:
		lt := float64(v.Below)
		f.Must = append(f.Must, qdrant.NewRange("content_version", &qdrant.Range{Lt: &lt}))
	}
	return s.deleteWhere(ctx, f)
}

// DeleteTenant implements Store.
func (s *Qdrant) DeleteTenant(ctx context.Context, tenantID uuid.UUID) error {
	return s.deleteWhere(ctx, Filter{}.qdrant(tenantID))
}

func (s *Qdrant) deleteWhere(ctx context.Context, f *qdrant.Filter) error {
	wait := true
	if _, err := s.client.Delete(ctx, &qdrant.DeletePoints{CollectionName: s.collection, Wait: &wait, Points: qdrant.NewPointsSelectorFilter(f)}); err != nil {
		return qdrantErr("delete", err)
	}
	return nil
}

// Count implements Store.
func (s *Qdrant) Count(ctx context.Context, tenantID uuid.UUID, f Filter) (int, error) {
	exact := true
	n, err := s.client.Count(ctx, &qdrant.CountPoints{CollectionName: s.collection, Filter: f.qdrant(tenantID), Exact: &exact})
	if err != nil {
		return 0, qdrantErr("count", err)
	}
	return int(n), nil
}

// Query implements Store. A hybrid query asks Qdrant for its two arms at
// once (concurrently, PrefetchLimit candidates each, under the same
// filter) and fuses them in ragd with Fuse, as the embedded store does:
// one implementation of every fusion, weights included, rather than
// Qdrant's RRF and DBSF, which take no weights.
func (s *Qdrant) Query(ctx context.Context, tenantID uuid.UUID, q Query) ([]Hit, error) {
	dims, err := s.dimensions()
	if err != nil {
		return nil, err
	}
	if err := validateQuery(q, dims); err != nil {
		return nil, err
	}
	switch q.Mode {
	case ModeDense:
		return s.arm(ctx, tenantID, q, q.TopK, false)
	case ModeSparse:
		return s.arm(ctx, tenantID, q, q.TopK, true)
	}
	limit := PrefetchLimit(q.TopK)
	var sparse []Hit
	var sparseErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		sparse, sparseErr = s.arm(ctx, tenantID, q, limit, true)
	}()
	dense, err := s.arm(ctx, tenantID, q, limit, false)
	<-done
	if err = errors.Join(err, sparseErr); err != nil {
		return nil, err
	}
	return Fuse(q.Fusing, q.TopK, dense, sparse), nil
}

// arm runs the dense or the sparse half of q for up to limit points.
// Its hits' Relevance is set: the sparse arm asks for the query's
// SparseBound at the same time.
func (s *Qdrant) arm(ctx context.Context, tenantID uuid.UUID, q Query, limit int, sparse bool) ([]Hit, error) {
	if sparse && len(q.Sparse.Indices) == 0 {
		return []Hit{}, nil
	}
	if sparse {
		var bound float64
		var boundErr error
		done := make(chan struct{})
		go func() {
			defer close(done)
			bound, boundErr = s.sparseBound(ctx, tenantID, q.Sparse)
		}()
		hits, err := s.rawArm(ctx, tenantID, q, limit, true)
		<-done
		if err = errors.Join(err, boundErr); err != nil {
			return nil, err
		}
		calibrateSparse(hits, bound)
		return hits, nil
	}
	hits, err := s.rawArm(ctx, tenantID, q, limit, false)
	calibrateDense(hits)
	return hits, err
}

// sparseBound is q's SparseBound with Qdrant's IDF, which it does not
// report: each term's IDF is read off the best of the tenant's points
// holding it, as the score of the term alone over the point's own weight
// for it (all the probes in one batch). A term none of the tenant's
// points holds counts as a term in one point of the collection (see
// SparseBound).
func (s *Qdrant) sparseBound(ctx context.Context, tenantID uuid.UUID, q SparseVector) (float64, error) {
	one, using := uint64(1), sparseName
	probes := make([]*qdrant.QueryPoints, min(len(q.Indices), maxIDFProbes))
	for i, t := range q.Indices[:len(probes)] {
		probes[i] = &qdrant.QueryPoints{CollectionName: s.collection, Filter: Filter{}.qdrant(tenantID), Limit: &one, Using: &using,
			Query: qdrant.NewQuerySparse([]uint32{t}, []float32{1}), WithVectors: qdrant.NewWithVectorsInclude(sparseName)}
	}
	res, err := s.client.QueryBatch(ctx, &qdrant.QueryBatchPoints{CollectionName: s.collection, QueryPoints: probes})
	if err != nil {
		return 0, qdrantErr("query term statistics", err)
	}
	idf := make([]float64, len(q.Indices))
	missing := false
	for i, t := range q.Indices[:len(probes)] {
		idf[i] = -1
		if i < len(res) && len(res[i].GetResult()) > 0 {
			top := res[i].GetResult()[0]
			if w := sparseWeight(top.GetVectors().GetVectors().GetVectors()[sparseName], t); w > 0 {
				idf[i] = float64(top.GetScore()) / w
			}
		}
		missing = missing || idf[i] < 0
	}
	// Terms past the probes (a pasted paragraph, not a question) count as
	// a term of one point, the most any term's IDF can be.
	for i := len(probes); i < len(idf); i++ {
		idf[i], missing = -1, true
	}
	if missing {
		// Qdrant's IDF counts the whole collection's points.
		exact := false
		n, err := s.client.Count(ctx, &qdrant.CountPoints{CollectionName: s.collection, Exact: &exact})
		if err != nil {
			return 0, qdrantErr("count", err)
		}
		for i := range idf {
			if idf[i] < 0 {
				idf[i] = boundIDF(int(n), 0)
			}
		}
	}
	return SparseBound(q, func(i int) float64 { return idf[i] }), nil
}

// sparseWeight is a returned sparse vector's value for term t (0 if
// absent), in either of the shapes Qdrant sends.
func sparseWeight(v *qdrant.VectorOutput, t uint32) float64 {
	indices, values := v.GetSparse().GetIndices(), v.GetSparse().GetValues()
	if v.GetSparse() == nil {
		indices, values = v.GetIndices().GetData(), v.GetData()
	}
	for i, idx := range indices {
		if idx == t && i < len(values) {
			return float64(values[i])
		}
	}
	return 0
}

// maxIDFProbes bounds the one-term probes of a query's SparseBound: a
// question has a few terms, a 2,000-character query a few hundred.
const maxIDFProbes = 64

// rawArm is arm without the Relevance.
func (s *Qdrant) rawArm(ctx context.Context, tenantID uuid.UUID, q Query, limit int, sparse bool) ([]Hit, error) {
	using, n := denseName, uint64(limit)
	req := &qdrant.QueryPoints{CollectionName: s.collection, Filter: q.Filter.qdrant(tenantID), Limit: &n, WithPayload: qdrant.NewWithPayload(true)}
	if sparse {
		using = sparseName
		req.Query = qdrant.NewQuerySparse(q.Sparse.Indices, q.Sparse.Values)
	} else {
		req.Query = qdrant.NewQueryDense(q.Dense)
	}
	req.Using = &using
	res, err := s.client.Query(ctx, req)
	if err != nil {
		return nil, qdrantErr("query", err)
	}
	hits := make([]Hit, 0, len(res))
	for _, sp := range res {
		h, err := hitFromPayload(sp.GetId().GetUuid(), sp.GetPayload(), sp.GetScore())
		if err != nil {
			return nil, err
		}
		if h.TenantID != tenantID {
			// Cannot happen with the filter above; never hand it out if it does.
			return nil, fmt.Errorf("qdrant: a point of another tenant came back for tenant %s", tenantID)
		}
		hits = append(hits, h)
	}
	return hits, nil
}

func hitFromPayload(id string, p map[string]*qdrant.Value, score float32) (Hit, error) {
	var h Hit
	var err error
	if h.ID, err = uuid.Parse(id); err != nil {
		return h, fmt.Errorf("qdrant: point id %q: %w", id, err)
	}
	h.TenantID, _ = uuid.Parse(p["tenant_id"].GetStringValue())
	h.DocumentID, _ = uuid.Parse(p["document_id"].GetStringValue())
	h.ContentVersion = int(p["content_version"].GetIntegerValue())
	h.Index = int(p["index"].GetIntegerValue())
	h.Title = p["title"].GetStringValue()
	h.Text = p["text"].GetStringValue()
	h.Tags = listOf(p["tags"])
	h.HeadingPath = listOf(p["heading_path"])
	h.PageStart = int(p["page_start"].GetIntegerValue())
	h.PageEnd = int(p["page_end"].GetIntegerValue())
	h.CharStart = int(p["char_start"].GetIntegerValue())
	h.CharEnd = int(p["char_end"].GetIntegerValue())
	h.Sections = sectionsOf(p["sections"])
	h.Metadata = map[string]any{}
	for k, v := range p["metadata"].GetStructValue().GetFields() {
		switch x := v.GetKind().(type) {
		case *qdrant.Value_StringValue:
			h.Metadata[k] = x.StringValue
		case *qdrant.Value_BoolValue:
			h.Metadata[k] = x.BoolValue
		case *qdrant.Value_IntegerValue:
			h.Metadata[k] = float64(x.IntegerValue)
		case *qdrant.Value_DoubleValue:
			h.Metadata[k] = x.DoubleValue
		}
	}
	h.Score = score
	return h, nil
}

func listOf(v *qdrant.Value) []string {
	out := []string{}
	for _, x := range v.GetListValue().GetValues() {
		out = append(out, x.GetStringValue())
	}
	return out
}

// Close implements Store.
func (s *Qdrant) Close() error { return s.client.Close() }

// DropCollection deletes the store's collection (tests and tooling).
func DropCollection(ctx context.Context, s *Qdrant) error {
	return s.client.DeleteCollection(ctx, s.collection)
}

// qdrantErr wraps a client error, turning Qdrant's rate limit (gRPC
// ResourceExhausted with a retry-after trailer) into a *RateLimitError.
func qdrantErr(op string, err error) error {
	var re *qdrant.QdrantResourceExhaustedError
	if errors.As(err, &re) {
		return &RateLimitError{RetryAfter: time.Duration(re.RetryAfterS) * time.Second, Err: fmt.Errorf("qdrant: %s: %w", op, err)}
	}
	return fmt.Errorf("qdrant: %s: %w", op, err)
}
