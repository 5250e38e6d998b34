package api_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/ragd/ragd/search"
)

// TestListDocumentsByTitle: a title search keeps the documents whose title
// or file name holds the text, in any case; sort=title orders them (and
// order=desc reverses), page by page; total counts every page.
func TestListDocumentsByTitle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, key := b.TenantWithKey("titles")
	_, keyB := b.TenantWithKey("titles-b")
	up := func(k, name, title string) string {
		t.Helper()
		fields := []string{}
		if title != "" {
			fields = append(fields, "title", title)
		}
		return b.Upload(k, "", name, []byte("the text of "+name), fields...).JSON(t)["id"].(string)
	}
	charlie := up(key, "c.txt", "Charlie handbook")
	alpha := up(key, "a.txt", "alpha Handbook")
	delta := up(key, "delta-HANDBOOK.txt", "Delta")
	up(key, "bravo.txt", "Bravo notes")
	up(keyB, "other.txt", "Echo handbook") // another tenant's
	list := func(path string) ([]string, string, float64) { t.Helper(); return listDocuments(t, b, key, path) }
	first, next, total := list("/v1/documents?title=handBOOK&sort=title&limit=2")
	rest, end, total2 := list("/v1/documents?title=handBOOK&sort=title&limit=2&cursor=" + next)
	if got, want := append(first, rest...), []string{alpha, charlie, delta}; !slices.Equal(got, want) || end != "" {
		t.Fatalf("title search A to Z: %v (next %q), want %v", got, end, want)
	}
	if total != 3 || total2 != 3 {
		t.Fatalf("total %v and %v, want 3 on each page", total, total2)
	}
	if desc, _, _ := list("/v1/documents?title=handbook&sort=title&order=desc"); !slices.Equal(desc, []string{delta, charlie, alpha}) {
		t.Fatalf("Z to A: %v", desc)
	}
	if _, _, all := list("/v1/documents?limit=1"); all != 4 {
		t.Fatalf("total without filters: %v, want the tenant's 4", all)
	}
	for _, bad := range []string{"sort=name", "sort=TITLE", "title=" + strings.Repeat("x", 301)} {
		if r := b.Req("GET", "/v1/documents?"+bad, key, nil); r.Status != 400 || r.Code(t) != "validation_failed" {
			t.Errorf("%s: %d %s", bad, r.Status, r.Body)
		}
	}
}

// TestUpdateDocument: PATCH changes tags, metadata and title, validated as
// on upload; the document is processed again so that search filters see
// the new tags; its history records each status; another tenant gets 404.
func TestUpdateDocument(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tenantID, key := b.TenantWithKey("edit")
	_, keyB := b.TenantWithKey("edit-b", "documents:read", "documents:write")
	id := b.Upload(key, "", "policy.md", []byte("# Leave\n\nVacation is 25 days."), "tags", "old").JSON(t)["id"].(string)
	b.WaitDocument(key, id)

	r := b.Must(200, "PATCH", "/v1/documents/"+id, key, map[string]any{"tags": []string{" hr ", "policies"}, "metadata": map[string]any{"team": "people", "year": 2026}})
	d := r.JSON(t)
	if d["content_version"] != 2.0 || d["status"] != "queued" || !slices.Equal(anyStrings(d["tags"]), []string{"hr", "policies"}) {
		t.Fatalf("after PATCH: %s", r.Body)
	}
	d = b.WaitDocument(key, id)
	if d["status"] != "ready" || d["title_source"] == "upload" {
		t.Fatalf("after the run: %v", d)
	}
	docID, tenant := mustUUID(t, id), mustUUID(t, tenantID)
	if n, _ := b.vectors.Count(t.Context(), tenant, search.Filter{TagsAll: []string{"hr"}, Metadata: map[string]any{"team": "people"}, DocumentIDs: []uuid.UUID{docID}}); n == 0 {
		t.Fatal("the points lack the new tags and metadata")
	}
	// Search sees the new tags, not the old (whose points of version 1
	// are no longer searched).
	for tag, want := range map[string]int{"hr": 1, "old": 0} {
		hits := b.Must(200, "POST", "/v1/search", key, map[string]any{"query": "vacation days", "score_threshold": 0, "filter": map[string]any{"tags_any": []string{tag}}}).JSON(t)["data"].([]any)
		if len(hits) != want {
			t.Errorf("search with tag %s: %d hits, want %d", tag, len(hits), want)
		}
	}

	d = b.Must(200, "PATCH", "/v1/documents/"+id, key, map[string]any{"title": "Leave policy"}).JSON(t)
	if d["title"] != "Leave policy" || d["title_source"] != "upload" || !slices.Equal(anyStrings(d["tags"]), []string{"hr", "policies"}) {
		t.Fatalf("title edit: %v", d)
	}
	b.WaitDocument(key, id)

	for _, bad := range []map[string]any{
		{"title": "   "},
		{"tags": []string{""}},
		{"metadata": map[string]any{"nested": map[string]any{"a": 1}}},
		{"unknown": 1},
	} {
		if r := b.Req("PATCH", "/v1/documents/"+id, key, bad); r.Status != 400 {
			t.Errorf("PATCH %v: %d %s", bad, r.Status, r.Body)
		}
	}
	if r := b.Req("PATCH", "/v1/documents/"+id, keyB, map[string]any{"tags": []string{"x"}}); r.Status != 404 {
		t.Errorf("another tenant's PATCH: %d", r.Status)
	}
	if r := b.Req("GET", "/v1/documents/"+id+"/history", keyB, nil); r.Status != 404 {
		t.Errorf("another tenant's history: %d", r.Status)
	}

	h := b.Must(200, "GET", "/v1/documents/"+id+"/history", key, nil).JSON(t)["data"].([]any)
	var steps []string
	for _, e := range h {
		e := e.(map[string]any)
		if st := e["status"].(string); st != "processing" { // a run of unchanged text may skip it
			steps = append(steps, st+"@"+fmtVersion(e["content_version"]))
		}
	}
	want := []string{"queued@1", "ready@1", "queued@2", "ready@2", "queued@3", "ready@3"}
	if !slices.Equal(steps, want) {
		t.Fatalf("history %v, want %v", steps, want)
	}
	if last := h[len(h)-1].(map[string]any); last["chunk_count"] == nil {
		t.Errorf("a ready entry without its chunk count: %v", last)
	}
}

// listDocuments reads a page of GET /v1/documents: the ids, the next
// cursor ("" at the end) and the total.
func listDocuments(t *testing.T, b *testBundle, key, path string) ([]string, string, float64) {
	t.Helper()
	r := b.Must(200, "GET", path, key, nil).JSON(t)
	var ids []string
	for _, d := range r["data"].([]any) {
		ids = append(ids, d.(map[string]any)["id"].(string))
	}
	next, _ := r["next_cursor"].(string)
	total, _ := r["total"].(float64)
	return ids, next, total
}

func anyStrings(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}

func fmtVersion(v any) string { return strconv.Itoa(int(v.(float64))) }
