package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/ragd/ragd"
)

// maxJSONBody bounds every JSON request body.
const maxJSONBody = 1 << 20

// decode reads exactly one JSON value of v's shape from the body: unknown
// fields, trailing data, empty bodies and bodies over maxJSONBody are errors
// that name the problem.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeLimit(w, r, v, maxJSONBody)
}

// decodeLimit is decode with a body limit of its own.
func decodeLimit(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return errorf(http.StatusUnsupportedMediaType, codeUnsupportedMediaType, "the body must be application/json")
		}
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return errorf(http.StatusBadRequest, codeInvalidJSON, "the body must hold one JSON value and nothing after it")
	}
	return nil
}

func decodeError(err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		mbe *http.MaxBytesError
	)
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.Is(err, io.EOF):
		return errorf(http.StatusBadRequest, codeInvalidJSON, "the body is empty; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errorf(http.StatusBadRequest, codeInvalidJSON, "the body ends in the middle of a JSON value")
	case errors.As(err, &syn):
		return errorf(http.StatusBadRequest, codeInvalidJSON, fmt.Sprintf("malformed JSON at byte %d: %s", syn.Offset, syn.Error()))
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return errorf(http.StatusBadRequest, codeInvalidJSON, "the body must be a JSON object")
		}
		return &httpError{status: http.StatusBadRequest, code: codeValidationFailed, detail: "the request has invalid fields",
			fields: map[string]string{field: "must be " + jsonKind(typ.Type.Kind().String()) + ", not " + typ.Value}}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for this one.
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return &httpError{status: http.StatusBadRequest, code: codeValidationFailed, detail: "the request has unknown fields",
			fields: map[string]string{name: "unknown field"}}
	default:
		return errorf(http.StatusBadRequest, codeInvalidJSON, "the body is not valid JSON for this request")
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	}
	return "another type"
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// list is the shape of every list response.
type list[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

func newList[T any](items []T, next *ragd.Cursor) list[T] {
	l := list[T]{Data: items}
	if l.Data == nil {
		l.Data = []T{}
	}
	if next != nil {
		s := next.Encode()
		l.NextCursor = &s
	}
	return l
}

// pageFrom reads the limit and cursor query parameters.
func pageFrom(r *http.Request) (ragd.Page, error) {
	var p ragd.Page
	var probs ragd.Problems
	q := r.URL.Query()
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > ragd.MaxPageLimit {
			probs.Add("limit", "must be an integer from 1 to %d", ragd.MaxPageLimit)
		}
		p.Limit = n
	}
	if s := q.Get("cursor"); s != "" {
		c, err := ragd.DecodeCursor(s)
		if err != nil {
			probs.Add("cursor", "is not a cursor this API returned")
		}
		p.After = &c
	}
	return p, probs.Err()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
