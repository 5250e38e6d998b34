// Package qdranttest runs, in process, a gRPC server that speaks the part
// of Qdrant's Collections and Points services ragd calls: collections with
// a named dense vector and a named sparse vector (IDF modifier), keyword
// payload indexes, upserts, deletes and counts by filter, and queries
// (dense, sparse, and prefetches fused by RRF) with must / must_not / should
// filters over keywords, integers, booleans and ranges, nested keys
// included. It is a test double for a network boundary we do not own; the
// conformance suite also runs against a real Qdrant when QDRANT_URL is set.
package qdranttest

import (
	"cmp"
	"context"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Start serves a fresh, empty fake on a loopback port until the test ends,
// and returns its URL.
func Start(t testing.TB) string {
	t.Helper()
	return StartServer(t).URL
}

// Server is a running fake.
type Server struct {
	URL string
	f   *fake
}

// RateLimitUpserts makes the next n upserts fail as Qdrant's rate limit
// does: ResourceExhausted with a retry-after trailer of seconds.
func (s *Server) RateLimitUpserts(n, seconds int) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	s.f.limitUpserts, s.f.retryAfter = n, seconds
}

// StartServer is Start, returning the fake for further set-up.
func StartServer(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	f := &fake{collections: map[string]*collection{}}
	qdrant.RegisterCollectionsServer(srv, &collectionsServer{f: f})
	qdrant.RegisterPointsServer(srv, &pointsServer{f: f})
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return &Server{URL: "http://" + ln.Addr().String(), f: f}
}

type fake struct {
	mu           sync.Mutex
	collections  map[string]*collection
	limitUpserts int
	retryAfter   int
}

type collection struct {
	dims    uint64
	idf     map[string]bool // sparse vectors with the IDF modifier
	points  map[string]*point
	indexes map[string]bool
}

type point struct {
	id      string
	dense   map[string][]float32
	sparse  map[string]map[uint32]float32
	payload map[string]*qdrant.Value
}

func (f *fake) get(name string) (*collection, error) {
	c, ok := f.collections[name]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Not found: Collection `%s` doesn't exist!", name)
	}
	return c, nil
}

type collectionsServer struct {
	qdrant.UnimplementedCollectionsServer
	f *fake
}

func (s *collectionsServer) CollectionExists(ctx context.Context, r *qdrant.CollectionExistsRequest) (*qdrant.CollectionExistsResponse, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	_, ok := s.f.collections[r.GetCollectionName()]
	return &qdrant.CollectionExistsResponse{Result: &qdrant.CollectionExists{Exists: ok}}, nil
}

func (s *collectionsServer) Create(ctx context.Context, r *qdrant.CreateCollection) (*qdrant.CollectionOperationResponse, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if _, ok := s.f.collections[r.GetCollectionName()]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "Wrong input: Collection `%s` already exists!", r.GetCollectionName())
	}
	dense := r.GetVectorsConfig().GetParamsMap().GetMap()
	if len(dense) != 1 {
		return nil, status.Error(codes.InvalidArgument, "fake: expects exactly one named dense vector")
	}
	c := &collection{idf: map[string]bool{}, points: map[string]*point{}, indexes: map[string]bool{}}
	for _, p := range dense {
		if p.GetDistance() != qdrant.Distance_Cosine {
			return nil, status.Error(codes.InvalidArgument, "fake: supports cosine distance only")
		}
		c.dims = p.GetSize()
	}
	for name, p := range r.GetSparseVectorsConfig().GetMap() {
		c.idf[name] = p.GetModifier() == qdrant.Modifier_Idf
	}
	s.f.collections[r.GetCollectionName()] = c
	return &qdrant.CollectionOperationResponse{Result: true}, nil
}

func (s *collectionsServer) Get(ctx context.Context, r *qdrant.GetCollectionInfoRequest) (*qdrant.GetCollectionInfoResponse, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	c, err := s.f.get(r.GetCollectionName())
	if err != nil {
		return nil, err
	}
	n := uint64(len(c.points))
	return &qdrant.GetCollectionInfoResponse{Result: &qdrant.CollectionInfo{
		Status: qdrant.CollectionStatus_Green, PointsCount: &n,
		Config: &qdrant.CollectionConfig{Params: &qdrant.CollectionParams{
			VectorsConfig: qdrant.NewVectorsConfigMap(map[string]*qdrant.VectorParams{"dense": {Size: c.dims, Distance: qdrant.Distance_Cosine}}),
		}},
	}}, nil
}

type pointsServer struct {
	qdrant.UnimplementedPointsServer
	f *fake
}

func done() *qdrant.PointsOperationResponse {
	return &qdrant.PointsOperationResponse{Result: &qdrant.UpdateResult{Status: qdrant.UpdateStatus_Completed}}
}

func (s *pointsServer) CreateFieldIndex(ctx context.Context, r *qdrant.CreateFieldIndexCollection) (*qdrant.PointsOperationResponse, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	c, err := s.f.get(r.GetCollectionName())
	if err != nil {
		return nil, err
	}
	c.indexes[r.GetFieldName()] = true
	return done(), nil
}

func (s *pointsServer) Upsert(ctx context.Context, r *qdrant.UpsertPoints) (*qdrant.PointsOperationResponse, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if s.f.limitUpserts > 0 {
		s.f.limitUpserts--
		_ = grpc.SetTrailer(ctx, metadata.Pairs("retry-after", strconv.Itoa(s.f.retryAfter)))
		return nil, status.Error(codes.ResourceExhausted, "Too many requests")
	}
	c, err := s.f.get(r.GetCollectionName())
	if err != nil {
		return nil, err
	}
	batch := make([]*point, 0, len(r.GetPoints()))
	for _, ps := range r.GetPoints() {
		p := &point{id: ps.GetId().GetUuid(), dense: map[string][]float32{}, sparse: map[string]map[uint32]float32{}, payload: ps.GetPayload()}
		if p.id == "" {
			return nil, status.Error(codes.InvalidArgument, "fake: point ids must be UUIDs")
		}
		for name, v := range ps.GetVectors().GetVectors().GetVectors() {
			if sv := v.GetSparse(); sv != nil {
				if len(sv.GetIndices()) != len(sv.GetValues()) {
					return nil, status.Error(codes.InvalidArgument, "Wrong input: sparse indices and values differ in length")
				}
				m := map[uint32]float32{}
				for i, idx := range sv.GetIndices() {
					m[idx] = sv.GetValues()[i]
				}
				p.sparse[name] = m
				continue
			}
			d := v.GetDense().GetData()
			if uint64(len(d)) != c.dims {
				return nil, status.Errorf(codes.InvalidArgument, "Wrong input: Vector dimension error: expected dim: %d, got %d", c.dims, len(d))
			}
			p.dense[name] = normalized(d)
		}
		batch = append(batch, p)
	}
	for _, p := range batch {
		c.points[p.id] = p
	}
	return done(), nil
}

func (s *pointsServer) Delete(ctx context.Context, r *qdrant.DeletePoints) (*qdrant.PointsOperationResponse, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	c, err := s.f.get(r.GetCollectionName())
	if err != nil {
		return nil, err
	}
	f := r.GetPoints().GetFilter()
	if f == nil {
		return nil, status.Error(codes.InvalidArgument, "fake: deletes by filter only")
	}
	for id, p := range c.points {
		if matchFilter(f, p.payload) {
			delete(c.points, id)
		}
	}
	return done(), nil
}

func (s *pointsServer) Count(ctx context.Context, r *qdrant.CountPoints) (*qdrant.CountResponse, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	c, err := s.f.get(r.GetCollectionName())
	if err != nil {
		return nil, err
	}
	var n uint64
	for _, p := range c.points {
		if matchFilter(r.GetFilter(), p.payload) {
			n++
		}
	}
	return &qdrant.CountResponse{Result: &qdrant.CountResult{Count: n}}, nil
}

type scored struct {
	p     *point
	score float32
}

// QueryBatch runs each query as Query does, in one call.
func (s *pointsServer) QueryBatch(ctx context.Context, r *qdrant.QueryBatchPoints) (*qdrant.QueryBatchResponse, error) {
	out := &qdrant.QueryBatchResponse{}
	for _, q := range r.GetQueryPoints() {
		q.CollectionName = r.GetCollectionName()
		res, err := s.Query(ctx, q)
		if err != nil {
			return nil, err
		}
		out.Result = append(out.Result, &qdrant.BatchResult{Result: res.GetResult()})
	}
	return out, nil
}

func (s *pointsServer) Query(ctx context.Context, r *qdrant.QueryPoints) (*qdrant.QueryResponse, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	c, err := s.f.get(r.GetCollectionName())
	if err != nil {
		return nil, err
	}
	limit := int(cmp.Or(r.GetLimit(), 10))
	var results []scored
	switch q := r.GetQuery().GetVariant().(type) {
	case *qdrant.Query_Nearest:
		if results, err = c.nearest(q.Nearest, r.GetUsing(), r.GetFilter(), limit); err != nil {
			return nil, err
		}
	case *qdrant.Query_Fusion:
		if q.Fusion != qdrant.Fusion_RRF {
			return nil, status.Error(codes.Unimplemented, "fake: RRF fusion only")
		}
		var lists [][]scored
		for _, pre := range r.GetPrefetch() {
			// The top-level filter applies to every prefetch, as in Qdrant.
			f := &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewFilterAsCondition(r.GetFilter())}}
			if pre.GetFilter() != nil {
				f.Must = append(f.Must, qdrant.NewFilterAsCondition(pre.GetFilter()))
			}
			nearest, ok := pre.GetQuery().GetVariant().(*qdrant.Query_Nearest)
			if !ok {
				return nil, status.Error(codes.Unimplemented, "fake: prefetches must be nearest queries")
			}
			l, err := c.nearest(nearest.Nearest, pre.GetUsing(), f, int(cmp.Or(pre.GetLimit(), 10)))
			if err != nil {
				return nil, err
			}
			lists = append(lists, l)
		}
		results = rrf(lists, limit)
	default:
		return nil, status.Error(codes.Unimplemented, "fake: nearest and fusion queries only")
	}
	out := make([]*qdrant.ScoredPoint, len(results))
	for i, sc := range results {
		out[i] = &qdrant.ScoredPoint{Id: qdrant.NewIDUUID(sc.p.id), Score: sc.score}
		if r.GetWithPayload().GetEnable() {
			out[i].Payload = sc.p.payload
		}
		// The named vectors asked for (sparse ones only: what ragd reads).
		for _, name := range r.GetWithVectors().GetInclude().GetNames() {
			sv, ok := sc.p.sparse[name]
			if !ok {
				continue
			}
			v := &qdrant.SparseVector{}
			for idx := range sv {
				v.Indices = append(v.Indices, idx)
			}
			slices.Sort(v.Indices)
			for _, idx := range v.Indices {
				v.Values = append(v.Values, sv[idx])
			}
			if out[i].Vectors == nil {
				out[i].Vectors = &qdrant.VectorsOutput{VectorsOptions: &qdrant.VectorsOutput_Vectors{Vectors: &qdrant.NamedVectorsOutput{Vectors: map[string]*qdrant.VectorOutput{}}}}
			}
			out[i].Vectors.GetVectors().Vectors[name] = &qdrant.VectorOutput{Vector: &qdrant.VectorOutput_Sparse{Sparse: v}}
		}
	}
	return &qdrant.QueryResponse{Result: out}, nil
}

// nearest scores the filtered points against a dense (cosine) or sparse
// (dot product, with IDF over the whole collection when the vector has the
// modifier) query and keeps the best limit.
func (c *collection) nearest(in *qdrant.VectorInput, using string, f *qdrant.Filter, limit int) ([]scored, error) {
	var out []scored
	switch v := in.GetVariant().(type) {
	case *qdrant.VectorInput_Dense:
		q := v.Dense.GetData()
		if uint64(len(q)) != c.dims {
			return nil, status.Errorf(codes.InvalidArgument, "Wrong input: Vector dimension error: expected dim: %d, got %d", c.dims, len(q))
		}
		q = normalized(q)
		for _, p := range c.points {
			d, ok := p.dense[using]
			if !ok || !matchFilter(f, p.payload) {
				continue
			}
			var s float32
			for i := range q {
				s += q[i] * d[i]
			}
			out = append(out, scored{p, s})
		}
	case *qdrant.VectorInput_Sparse:
		idf := map[uint32]float64{}
		n := 0
		for _, p := range c.points {
			if _, ok := p.sparse[using]; ok {
				n++
			}
		}
		for _, idx := range v.Sparse.GetIndices() {
			idf[idx] = 1
			if c.idf[using] {
				df := 0
				for _, p := range c.points {
					if _, ok := p.sparse[using][idx]; ok {
						df++
					}
				}
				idf[idx] = math.Log(1 + (float64(n-df)+0.5)/(float64(df)+0.5))
			}
		}
		for _, p := range c.points {
			sv, ok := p.sparse[using]
			if !ok || !matchFilter(f, p.payload) {
				continue
			}
			var s float64
			hit := false
			for i, idx := range v.Sparse.GetIndices() {
				if w, ok := sv[idx]; ok {
					s += idf[idx] * float64(v.Sparse.GetValues()[i]) * float64(w)
					hit = true
				}
			}
			if hit {
				out = append(out, scored{p, float32(s)})
			}
		}
	default:
		return nil, status.Error(codes.Unimplemented, "fake: dense and sparse vectors only")
	}
	slices.SortFunc(out, func(a, b scored) int {
		return cmp.Or(cmp.Compare(b.score, a.score), strings.Compare(a.p.id, b.p.id))
	})
	return out[:min(limit, len(out))], nil
}

// rrf fuses ranked lists as Qdrant does: 1/(position + 2), summed.
func rrf(lists [][]scored, limit int) []scored {
	byID := map[string]*scored{}
	for _, l := range lists {
		for pos, sc := range l {
			s := float32(1 / float64(pos+2))
			if got, ok := byID[sc.p.id]; ok {
				got.score += s
				continue
			}
			byID[sc.p.id] = &scored{sc.p, s}
		}
	}
	out := make([]scored, 0, len(byID))
	for _, sc := range byID {
		out = append(out, *sc)
	}
	slices.SortFunc(out, func(a, b scored) int {
		return cmp.Or(cmp.Compare(b.score, a.score), strings.Compare(a.p.id, b.p.id))
	})
	return out[:min(limit, len(out))]
}

func normalized(v []float32) []float32 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	out := slices.Clone(v)
	if s == 0 {
		return out
	}
	inv := float32(1 / math.Sqrt(s))
	for i := range out {
		out[i] *= inv
	}
	return out
}

// matchFilter evaluates a filter: all must, no must_not, and at least one
// should when there are any.
func matchFilter(f *qdrant.Filter, payload map[string]*qdrant.Value) bool {
	if f == nil {
		return true
	}
	for _, c := range f.GetMust() {
		if !matchCondition(c, payload) {
			return false
		}
	}
	for _, c := range f.GetMustNot() {
		if matchCondition(c, payload) {
			return false
		}
	}
	if len(f.GetShould()) > 0 {
		return slices.ContainsFunc(f.GetShould(), func(c *qdrant.Condition) bool { return matchCondition(c, payload) })
	}
	return true
}

func matchCondition(c *qdrant.Condition, payload map[string]*qdrant.Value) bool {
	switch x := c.GetConditionOneOf().(type) {
	case *qdrant.Condition_Filter:
		return matchFilter(x.Filter, payload)
	case *qdrant.Condition_Field:
		values := lookup(payload, x.Field.GetKey())
		if r := x.Field.GetRange(); r != nil {
			return slices.ContainsFunc(values, func(v *qdrant.Value) bool { return inRange(v, r) })
		}
		return slices.ContainsFunc(values, func(v *qdrant.Value) bool { return matchValue(x.Field.GetMatch(), v) })
	}
	return false // conditions ragd does not send
}

// lookup follows a dotted key; a list yields each of its values.
func lookup(payload map[string]*qdrant.Value, key string) []*qdrant.Value {
	parts := strings.Split(key, ".")
	v, ok := payload[parts[0]]
	if !ok {
		return nil
	}
	for _, p := range parts[1:] {
		if v = v.GetStructValue().GetFields()[p]; v == nil {
			return nil
		}
	}
	if l := v.GetListValue(); l != nil {
		return l.GetValues()
	}
	return []*qdrant.Value{v}
}

func matchValue(m *qdrant.Match, v *qdrant.Value) bool {
	switch x := m.GetMatchValue().(type) {
	case *qdrant.Match_Keyword:
		s, ok := v.GetKind().(*qdrant.Value_StringValue)
		return ok && s.StringValue == x.Keyword
	case *qdrant.Match_Keywords:
		s, ok := v.GetKind().(*qdrant.Value_StringValue)
		return ok && slices.Contains(x.Keywords.GetStrings(), s.StringValue)
	case *qdrant.Match_Integer:
		i, ok := v.GetKind().(*qdrant.Value_IntegerValue)
		return ok && i.IntegerValue == x.Integer
	case *qdrant.Match_Boolean:
		b, ok := v.GetKind().(*qdrant.Value_BoolValue)
		return ok && b.BoolValue == x.Boolean
	}
	return false
}

func inRange(v *qdrant.Value, r *qdrant.Range) bool {
	var n float64
	switch x := v.GetKind().(type) {
	case *qdrant.Value_IntegerValue:
		n = float64(x.IntegerValue)
	case *qdrant.Value_DoubleValue:
		n = x.DoubleValue
	default:
		return false
	}
	return (r.Gte == nil || n >= *r.Gte) && (r.Gt == nil || n > *r.Gt) && (r.Lte == nil || n <= *r.Lte) && (r.Lt == nil || n < *r.Lt)
}
