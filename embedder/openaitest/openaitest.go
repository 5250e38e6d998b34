// Package openaitest is an httptest server that speaks OpenAI's embeddings
// API (POST /v1/embeddings), for driving go-openai through batching,
// errors and retries in tests. It is a double for a network boundary we do
// not own.
package openaitest

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Key is the API key the server accepts.
const Key = "test-key"

// Server answers embedding requests. Each vector is derived from its text:
// a text "text N" gets N as its first component (so tests can check
// order); any other text gets a deterministic hash-based vector.
type Server struct {
	URL string // base URL, ending in /v1

	mu       sync.Mutex
	dims     int
	models   map[string]int // AddModel's: their vectors' sizes
	requests []Request
	// Respond, when set, may answer the n-th request (from 1) itself by
	// writing to w and returning true.
	Respond func(w http.ResponseWriter, n int) bool
	// before, when set (SetBefore), is called with each request before
	// it is answered.
	before func(r Request)
}

// SetBefore makes the server call fn with each request before answering
// it (to slow a model down, or hold it); nil stops it.
func (s *Server) SetBefore(fn func(r Request)) {
	s.mu.Lock()
	s.before = fn
	s.mu.Unlock()
}

// Request is what one request asked for.
type Request struct {
	Model      string
	Inputs     []string
	Dimensions int
	HasDims    bool
}

// Start serves until the test ends; vectors have dims dimensions.
func Start(t testing.TB, dims int) *Server {
	t.Helper()
	s := &Server{dims: dims}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	s.URL = srv.URL + "/v1"
	return s
}

// SetDims changes the size of the vectors the server returns.
func (s *Server) SetDims(d int) {
	s.mu.Lock()
	s.dims = d
	s.mu.Unlock()
}

// AddModel makes the server answer for model with vectors of dims
// dimensions of its own (ModelVector): another embedding space, whose
// vectors are unrelated to the default model's for the same text. Any
// other model not added gets the default model's vectors, except one
// named "missing-..." which is answered 404, as OpenAI answers a model
// that does not exist.
func (s *Server) AddModel(model string, dims int) {
	s.mu.Lock()
	if s.models == nil {
		s.models = map[string]int{}
	}
	s.models[model] = dims
	s.mu.Unlock()
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Input      []string `json:"input"`
		Model      string   `json:"model"`
		Dimensions *int     `json:"dimensions"`
	}
	if r.URL.Path != "/v1/embeddings" || json.NewDecoder(r.Body).Decode(&body) != nil {
		w.WriteHeader(400)
		fmt.Fprint(w, `{"error":{"message":"bad request","type":"invalid_request_error"}}`)
		return
	}
	s.mu.Lock()
	req := Request{Model: body.Model, Inputs: body.Input, HasDims: body.Dimensions != nil}
	if body.Dimensions != nil {
		req.Dimensions = *body.Dimensions
	}
	s.requests = append(s.requests, req)
	n, dims, respond, before := len(s.requests), s.dims, s.Respond, s.before
	modelDims, own := s.models[body.Model]
	s.mu.Unlock()
	if before != nil {
		before(req)
	}
	if r.Header.Get("Authorization") != "Bearer "+Key {
		w.WriteHeader(401)
		fmt.Fprint(w, `{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}`)
		return
	}
	if respond != nil && respond(w, n) {
		return
	}
	if strings.HasPrefix(body.Model, "missing-") {
		w.WriteHeader(404)
		fmt.Fprintf(w, `{"error":{"message":"The model '%s' does not exist or you do not have access to it.","type":"invalid_request_error","code":"model_not_found"}}`, body.Model)
		return
	}
	type item struct {
		Object    string    `json:"object"`
		Embedding []float32 `json:"embedding"`
		Index     int       `json:"index"`
	}
	data := make([]item, len(body.Input))
	tokens := 0
	for i, in := range body.Input {
		if own {
			data[i] = item{"embedding", ModelVector(body.Model, in, modelDims), i}
		} else {
			data[i] = item{"embedding", Vector(in, dims), i}
		}
		tokens += len(strings.Fields(in))
	}
	// Out of order, as the API allows: clients must use the index.
	rand.Shuffle(len(data), func(i, j int) { data[i], data[j] = data[j], data[i] })
	json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": body.Model,
		"usage": map[string]int{"prompt_tokens": tokens, "total_tokens": tokens}})
}

// Vector is the vector the server returns for text.
func Vector(text string, dims int) []float32 {
	v := make([]float32, dims)
	var num float32
	if _, err := fmt.Sscanf(text, "text %g", &num); err == nil {
		v[0] = num
		return v
	}
	h := fnv.New64a()
	h.Write([]byte(text))
	r := rand.New(rand.NewPCG(h.Sum64(), 1))
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// ModelVector is the vector the server returns for text from a model
// added with AddModel: a deterministic hash of the model and the text.
func ModelVector(model, text string, dims int) []float32 {
	h := fnv.New64a()
	h.Write([]byte(model))
	h.Write([]byte{0})
	h.Write([]byte(text))
	r := rand.New(rand.NewPCG(h.Sum64(), 2))
	v := make([]float32, dims)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}
