package search

import (
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/google/uuid"
)

// TestPointCodecSections: the embedded store's log keeps a point's code
// point offsets and sections, and reads records written before they were
// recorded (no char_start, char_end or sections) as zeros and none.
func TestPointCodecSections(t *testing.T) {
	t.Parallel()
	p := Point{ID: uuid.New(), TenantID: uuid.New(), DocumentID: uuid.New(), ContentVersion: 2, Index: 3,
		Dense: []float32{0.5, -0.5}, Text: "Vacation. Password.", Tags: []string{}, Metadata: map[string]any{},
		HeadingPath: []string{"Handbook"}, CharStart: 10, CharEnd: 29,
		Sections: []Section{{HeadingPath: []string{"Handbook", "Leave"}, CharStart: 10, CharEnd: 19}, {HeadingPath: []string{"Handbook", "IT"}, CharStart: 20, CharEnd: 29}}}
	b, err := encodePoint(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodePoint(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.CharStart != 10 || got.CharEnd != 29 || !reflect.DeepEqual(got.Sections, p.Sections) {
		t.Fatalf("decoded chars [%d,%d) sections %+v", got.CharStart, got.CharEnd, got.Sections)
	}

	old := []byte(`{"id":"` + p.ID.String() + `","tenant_id":"` + p.TenantID.String() + `","document_id":"` + p.DocumentID.String() +
		`","content_version":1,"index":0,"sparse":{"indices":null,"values":null},"title":"t","text":"x","tags":[],"metadata":{},"heading_path":["H"],"page_start":1,"page_end":1}`)
	rec := binary.LittleEndian.AppendUint32(nil, uint32(len(old)))
	rec = append(rec, old...)
	rec = binary.LittleEndian.AppendUint32(rec, 0x3f800000) // 1.0
	got, err = decodePoint(rec)
	if err != nil {
		t.Fatalf("a record of an older log: %v", err)
	}
	if got.Text != "x" || got.CharStart != 0 || got.CharEnd != 0 || got.Sections != nil || !reflect.DeepEqual(got.HeadingPath, []string{"H"}) || len(got.Dense) != 1 {
		t.Fatalf("a record of an older log decoded as %+v", got)
	}
}

// TestPayloadCodecMatchesTheLog: a point read from the checkpoint is the
// point a replay of the log gives, whatever its payload holds.
func TestPayloadCodecMatchesTheLog(t *testing.T) {
	t.Parallel()
	base := Point{ID: uuid.New(), TenantID: uuid.New(), DocumentID: uuid.New(), Dense: []float32{1, 0}}
	cases := map[string]func(p *Point){
		"Empty": func(p *Point) {},
		"NilAndEmptyApart": func(p *Point) {
			p.Tags, p.HeadingPath, p.Metadata, p.Sections = []string{}, []string{}, map[string]any{}, []Section{}
			p.Sparse = SparseVector{Indices: []uint32{}, Values: []float32{}}
		},
		"Everything": func(p *Point) {
			p.ContentVersion, p.Index, p.PageStart, p.PageEnd, p.CharStart, p.CharEnd = 3, -1, 1, 9, 1<<40, 1<<40+5
			p.Title, p.Text = "Tïtle", "text with \"quotes\", <html> & a tab\t"
			p.Tags, p.HeadingPath = []string{"a", ""}, []string{"H1", "H2"}
			p.Sparse = SparseVector{Indices: []uint32{0, 1 << 31, 4294967295}, Values: []float32{0.1, 1e-30, 3.4e38}}
			p.Metadata = map[string]any{"int": 7, "big": int64(1) << 53, "f": 0.1, "s": "x", "list": []any{1, "a", nil}, "map": map[string]any{"b": false}, "nil": nil}
			p.Sections = []Section{{HeadingPath: []string{"H1"}, CharStart: 1, CharEnd: 2, PageStart: 3, PageEnd: 4}, {}}
		},
		"InvalidUTF8": func(p *Point) {
			p.Title, p.Text = "\xff", "a\xe2\x82b\xc0\xafc"
			p.Tags, p.HeadingPath = []string{"\xfe\xff"}, []string{"ok", "\xed\xa0\x80"}
			p.Metadata = map[string]any{"k\xff": "v\xff"}
			p.Sections = []Section{{HeadingPath: []string{"\x80"}}}
		},
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := base
			edit(&p)
			rec, err := encodePoint(p)
			if err != nil {
				t.Fatal(err)
			}
			want, err := decodePoint(rec)
			if err != nil {
				t.Fatal(err)
			}
			b, err := appendPayload(nil, &p)
			if err != nil {
				t.Fatal(err)
			}
			got := Point{ID: p.ID, TenantID: p.TenantID, Dense: want.Dense}
			if err := decodePayload(b, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("from the checkpoint\n%#v\nfrom the log\n%#v", got, want)
			}
			for n := range len(b) { // every cut is an error, never a panic
				var q Point
				if decodePayload(b[:n], &q) == nil {
					t.Fatalf("a payload cut to %d of %d bytes decoded", n, len(b))
				}
			}
		})
	}
}

// FuzzDecodePayload: no payload, however broken, panics or hangs.
func FuzzDecodePayload(f *testing.F) {
	p := Point{DocumentID: uuid.New(), Title: "t", Tags: []string{"a"}, Metadata: map[string]any{"k": 1},
		Sparse: SparseVector{Indices: []uint32{1, 2}, Values: []float32{0.5, 1}}, Sections: []Section{{HeadingPath: []string{"H"}}}}
	b, err := appendPayload(nil, &p)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var q Point
		_ = decodePayload(b, &q)
	})
}
