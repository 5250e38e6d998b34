package console

import (
	"net/url"
	"path"
	"strings"
	"testing"

	"github.com/ragd/ragd/ingest"
)

// FuzzSafeNext: whatever a sign-in's next is, the console sends the browser
// to one of its own pages, on this site.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/console/search?q=x", "//evil.example/", "/console/../v1", `/\evil`, "https://evil.example/console/",
		"/console/%2e%2e/x", "/console//evil.example", "javascript:alert(1)", "", "/console/documents#frag", "/console/\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		u, err := url.Parse(got)
		if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || strings.HasPrefix(got, "//") || strings.Contains(got, `\`) {
			t.Fatalf("safeNext(%q) = %q, not a path of this site", next, got)
		}
		if !strings.HasPrefix(u.Path, "/console/") || path.Clean(u.Path) != u.Path {
			t.Fatalf("safeNext(%q) = %q, not a clean console path", next, got)
		}
	})
}

func TestFieldErrors(t *testing.T) {
	t.Parallel()
	got, other := fieldErrors(map[string]string{
		"output_schema":              "does not compile",
		"mcp_servers[0].url":         "must be https",
		"mcp_servers[1].name":        "is required",
		"langfuse.secret_key":        "is required with a public key",
		"retrieval.top_k":            "must be between 1 and 100",
		"retrieval.tags[1]":          "must be 1 to 64 characters",
		"retrieval.unknown":          "is not a setting",
		"something_the_form_lacks.x": "no field for it",
	}, formField)
	want := map[string]string{
		"output_schema":       "does not compile",
		"langfuse_secret_key": "is required with a public key",
		"retrieval_top_k":     "must be between 1 and 100",
		"retrieval_tags":      "retrieval.tags[1]: must be 1 to 64 characters",
		"retrieval":           "retrieval.unknown: is not a setting",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	if m := got["mcp_servers"]; !strings.Contains(m, "mcp_servers[0].url: must be https") || !strings.Contains(m, "mcp_servers[1].name: is required") {
		t.Errorf("mcp_servers: %q", m)
	}
	if len(other) != 1 || !strings.Contains(other[0], "something_the_form_lacks") {
		t.Errorf("errors without a field: %v", other)
	}
}

func TestBarChart(t *testing.T) {
	t.Parallel()
	c := barChart("t", []bar{{Label: "a", Value: 0}, {Label: "b", Value: 5}, {Label: "c", Value: 10}})
	if c.Bars[0].H != 0 || c.Bars[2].H != chartHeight || c.Bars[1].H != chartHeight/2 {
		t.Fatalf("heights %v %v %v", c.Bars[0].H, c.Bars[1].H, c.Bars[2].H)
	}
	if c.Bars[2].Y+c.Bars[2].H != float64(c.Baseline) || c.Bars[0].Y != float64(c.Baseline) {
		t.Fatal("bars do not stand on the baseline")
	}
	var days []bar
	for range 30 {
		days = append(days, bar{Label: "11-01", Value: 0})
	}
	c = barChart("days", days)
	shown := 0
	for _, b := range c.Bars {
		if b.ShowLabel {
			shown++
		}
		if b.ShowValue {
			t.Fatal("a value shown over an empty bar")
		}
	}
	if shown != 5 { // days 0, 7, 14, 21, 28; the last (29) is too close
		t.Fatalf("%d labels under 30 days", shown)
	}
	if empty := barChart("none", nil); len(empty.Bars) != 0 || empty.Max != 0 {
		t.Fatal("an empty chart")
	}
}

func TestQuotaRow(t *testing.T) {
	t.Parallel()
	limit := func(n int64) *int64 { return &n }
	for _, tc := range []struct {
		name    string
		use     ingest.QuotaUse
		percent int
		full    bool
	}{
		{"NoLimit", ingest.QuotaUse{Used: 7}, 0, false},
		{"Part", ingest.QuotaUse{Limit: limit(8), Used: 2}, 25, false},
		{"Full", ingest.QuotaUse{Limit: limit(8), Used: 8}, 100, true},
		{"Over", ingest.QuotaUse{Limit: limit(8), Used: 9}, 100, true},
		{"ZeroAllowsNothing", ingest.QuotaUse{Limit: limit(0)}, 100, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			row := quotaRowOf("k", "K", tc.use, count)
			if row.Percent != tc.percent || row.Full != tc.full || (row.Limit == nil) != (tc.use.Limit == nil) {
				t.Fatalf("%+v", row)
			}
		})
	}
}
