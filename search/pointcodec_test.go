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
