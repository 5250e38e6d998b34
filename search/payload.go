package search

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"unicode/utf8"
)

// A point's payload in the checkpoint: everything but its id, tenant and
// dense vector (the checkpoint keeps those apart), in a binary form that
// decodes about ten times faster than the log's JSON. Decoding gives the
// point the log's replay would give: strings carry the replacement
// character where JSON would have put it, the metadata goes through JSON
// as in the log (numbers come back float64), and nil and empty slices
// and maps stay apart as JSON keeps them (null against []; empty sections
// are omitted, so nil).
//
// Layout: document id (16 bytes); content version, index, pages and
// characters as varints; title and text; tags and heading path; the
// sparse vector; the metadata's JSON; the sections. A length or count is
// a uvarint, stored plus one for slices and maps so that 0 means nil.

// appendPayload appends p's payload to b.
func appendPayload(b []byte, p *Point) ([]byte, error) {
	b = append(b, p.DocumentID[:]...)
	for _, v := range []int{p.ContentVersion, p.Index, p.PageStart, p.PageEnd, p.CharStart, p.CharEnd} {
		b = binary.AppendVarint(b, int64(v))
	}
	b = appendString(b, p.Title)
	b = appendString(b, p.Text)
	b = appendStrings(b, p.Tags)
	b = appendStrings(b, p.HeadingPath)
	b = appendCount(b, p.Sparse.Indices == nil, len(p.Sparse.Indices))
	for _, t := range p.Sparse.Indices {
		b = binary.AppendUvarint(b, uint64(t))
	}
	b = appendCount(b, p.Sparse.Values == nil, len(p.Sparse.Values))
	for _, v := range p.Sparse.Values {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	if p.Metadata == nil {
		b = append(b, 0)
	} else {
		js, err := json.Marshal(p.Metadata)
		if err != nil {
			return nil, err
		}
		b = appendCount(b, false, len(js))
		b = append(b, js...)
	}
	// Sections are omitted from the log's JSON when empty: nil again.
	b = appendCount(b, len(p.Sections) == 0, len(p.Sections))
	for _, s := range p.Sections {
		b = appendStrings(b, s.HeadingPath)
		for _, v := range []int{s.CharStart, s.CharEnd, s.PageStart, s.PageEnd} {
			b = binary.AppendVarint(b, int64(v))
		}
	}
	return b, nil
}

func appendCount(b []byte, isNil bool, n int) []byte {
	if isNil {
		return append(b, 0)
	}
	return binary.AppendUvarint(b, uint64(n)+1)
}

// appendString appends s as JSON would keep it: each byte that is not
// part of valid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	if !utf8.ValidString(s) {
		var sb strings.Builder
		for i := 0; i < len(s); {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				sb.WriteRune(utf8.RuneError)
			} else {
				sb.WriteString(s[i : i+n])
			}
			i += n
		}
		s = sb.String()
	}
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendStrings(b []byte, ss []string) []byte {
	b = appendCount(b, ss == nil, len(ss))
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

var errPayload = errors.New("bad point payload")

// payloadReader decodes a payload; the first error sticks.
type payloadReader struct {
	b   []byte
	err error
}

func (r *payloadReader) fail() {
	if r.err == nil {
		r.err = errPayload
	}
	r.b = nil
}

func (r *payloadReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *payloadReader) int() int {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return int(v)
}

// count reads a count stored plus one; nil says it was 0 (a nil slice).
// A count that the bytes left cannot hold (each element takes one byte
// at least) fails.
func (r *payloadReader) count() (n int, isNil bool) {
	v := r.uvarint()
	if v == 0 {
		return 0, true
	}
	if v-1 > uint64(len(r.b)) {
		r.fail()
		return 0, true
	}
	return int(v - 1), false
}

func (r *payloadReader) bytes(n int) []byte {
	if n < 0 || n > len(r.b) {
		r.fail()
		return nil
	}
	b := r.b[:n]
	r.b = r.b[n:]
	return b
}

func (r *payloadReader) string() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return ""
	}
	return string(r.bytes(int(n)))
}

func (r *payloadReader) strings() []string {
	n, isNil := r.count()
	if isNil {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = r.string()
	}
	return ss
}

// decodePayload fills p's payload fields from b.
func decodePayload(b []byte, p *Point) error {
	r := &payloadReader{b: b}
	copy(p.DocumentID[:], r.bytes(16))
	for _, v := range []*int{&p.ContentVersion, &p.Index, &p.PageStart, &p.PageEnd, &p.CharStart, &p.CharEnd} {
		*v = r.int()
	}
	p.Title = r.string()
	p.Text = r.string()
	p.Tags = r.strings()
	p.HeadingPath = r.strings()
	if n, isNil := r.count(); !isNil {
		p.Sparse.Indices = make([]uint32, n)
		for i := range n {
			p.Sparse.Indices[i] = uint32(r.uvarint())
		}
	}
	if n, isNil := r.count(); !isNil {
		vals := r.bytes(4 * n)
		if r.err == nil {
			p.Sparse.Values = make([]float32, n)
			for i := range n {
				p.Sparse.Values[i] = math.Float32frombits(binary.LittleEndian.Uint32(vals[4*i:]))
			}
		}
	}
	if n, isNil := r.count(); !isNil {
		if js := r.bytes(n); r.err == nil {
			if err := json.Unmarshal(js, &p.Metadata); err != nil {
				return err
			}
		}
	}
	if n, isNil := r.count(); !isNil {
		p.Sections = make([]Section, n)
		for i := range p.Sections {
			s := &p.Sections[i]
			s.HeadingPath = r.strings()
			for _, v := range []*int{&s.CharStart, &s.CharEnd, &s.PageStart, &s.PageEnd} {
				*v = r.int()
			}
		}
	}
	if r.err == nil && len(r.b) != 0 {
		return errors.New("trailing bytes in a point payload")
	}
	return r.err
}
