package api

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

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
	// Read whole (json.Decoder would buffer the value anyway) so that
	// jsonText can look at the bytes the decoder saw.
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return errorf(http.StatusBadRequest, codeInvalidJSON, "the body could not be read")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return errorf(http.StatusBadRequest, codeInvalidJSON, "the body must hold one JSON value and nothing after it")
	}
	// null decodes into anything, leaving it as it was: a request whose
	// shape is an object must send one.
	if k := reflect.TypeOf(v).Elem().Kind(); (k == reflect.Struct || k == reflect.Map) && !bytes.HasPrefix(bytes.TrimLeft(raw, " \t\r\n"), []byte("{")) {
		return errorf(http.StatusBadRequest, codeInvalidJSON, "the body must be a JSON object")
	}
	return jsonText(raw)
}

// jsonText refuses, naming the field ("metadata.lang", "queries[2].query"),
// the first string or object key of the JSON value in raw that is not text
// Postgres can store (textProblem). A "\u0000" escape decodes to a NUL,
// which text and jsonb columns refuse. Bytes that are not UTF-8 are refused
// too, though encoding/json would replace them with U+FFFD: JSON must be
// UTF-8 (RFC 8259), and the replacement would store something the client
// did not send and make distinct values equal (two tags, two external ids
// spelt in Latin-1 would both become "caf\uFFFD"). raw must be one valid
// JSON value (decodeLimit has decoded it).
func jsonText(raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	// check looks at a string token: s decoded, raw[from:dec.InputOffset()]
	// the bytes it came from (with the separators before it, all ASCII).
	check := func(s string, from int64, name, prefix string) error {
		msg := textProblem(s)
		if !utf8.Valid(raw[from:dec.InputOffset()]) {
			msg = "must be valid UTF-8"
		}
		if msg == "" {
			return nil
		}
		return textError("JSON field", cmp.Or(name, "body"), prefix+msg)
	}
	var walk func(name string) error
	walk = func(name string) error {
		from := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			for dec.More() {
				from := dec.InputOffset()
				tok, err := dec.Token()
				if err != nil {
					return err
				}
				key, _ := tok.(string)
				// A bad key is named by the object that holds it.
				if err := check(key, from, name, "keys "); err != nil {
					return err
				}
				field := key
				if name != "" {
					field = name + "." + key
				}
				if err := walk(field); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				if err := walk(fmt.Sprintf("%s[%d]", name, i)); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		}
		if s, ok := tok.(string); ok {
			return check(s, from, name, "")
		}
		return nil
	}
	err := walk("")
	if he := (*httpError)(nil); err != nil && !errors.As(err, &he) {
		return errorf(http.StatusBadRequest, codeInvalidJSON, "the body is not valid JSON for this request")
	}
	return err
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
