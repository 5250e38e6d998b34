package agents

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCheckOutputSchema(t *testing.T) {
	t.Parallel()
	valid := []string{
		`{}`,
		`{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}`,
		`{"$schema":"https://json-schema.org/draft/2020-12/schema","$defs":{"n":{"type":"number"}},"properties":{"x":{"$ref":"#/$defs/n"}}}`,
	}
	for _, s := range valid {
		if err := CheckOutputSchema(json.RawMessage(s)); err != nil {
			t.Errorf("CheckOutputSchema(%s) = %v, want nil", s, err)
		}
	}
	invalid := map[string]string{
		`{"type":"nonsense"}`:                    "at /type",
		`{"properties":{"a":{"minimum":"one"}}}`: "at /properties/a/minimum",
		`[]`:                                     "JSON Schema object",
		`true`:                                   "JSON Schema object",
		`{"$ref":"file:///etc/passwd"}`:          "must not reference",
		`{"$ref":"https://example.com/s.json"}`:  "must not reference",
		`{"$ref":"#/$defs/missing"}`:             "does not compile",
		`{"$schema":"http://json-schema.org/draft-04/schema#"}`: "draft 2020-12",
		`{"pattern":"("}`: "does not compile",
	}
	for s, want := range invalid {
		err := CheckOutputSchema(json.RawMessage(s))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckOutputSchema(%s) = %v, want an error containing %q", s, err, want)
		}
	}
	big := `{"description":"` + strings.Repeat("x", MaxOutputSchemaBytes) + `"}`
	if err := CheckOutputSchema(json.RawMessage(big)); err == nil {
		t.Error("an oversized schema was accepted")
	}
}

func FuzzCheckOutputSchema(f *testing.F) {
	for _, s := range []string{`{}`, `{"type":"object"}`, `{"$ref":"#"}`, `{"$defs":{"a":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"}`, `{"pattern":"a{1000}{1000}"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_ = CheckOutputSchema(json.RawMessage(s)) // must not panic or hang
	})
}

func TestSlugify(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"Acme Corp":                    "acme-corp",
		"  Ünïcödé -- Name!! ":         "unicode-name",
		"!!!":                          "",
		"a" + strings.Repeat("b", 100): "a" + strings.Repeat("b", 63),
	}
	for in, want := range cases {
		if got := Slugify(in, 64); got != want {
			t.Errorf("Slugify(%q) = %q, want %q", in, got, want)
		}
	}
}
