package console_test

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ragd/ragd/extract/extracttest"
)

// TestDocumentPage: a document's page shows what became of it (status,
// versions, history, chunks with pages and headings, the extracted text, a
// link to the original) and edits its title, tags and metadata; another
// tenant gets 404 and nothing of it. The list counts, searches titles,
// sorts, shows only the actions that apply, and keeps its filters across
// an action.
func TestDocumentPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, keyA := b.TenantWithKey("docpage-a", allScopes...)
	_, keyB := b.TenantWithKey("docpage-b", allScopes...)
	md := "# Handbook\n\n## Leave\n\nVacation is 25 days a year.\n\n## Travel\n\nBook trains, not planes, under 600 km."
	handbook := b.Upload(keyA, "", "handbook.md", []byte(md), "tags", "hr", "metadata", `{"team":"people","year":2026}`).JSON(t)["id"].(string)
	notes := b.Upload(keyA, "", "notes.txt", []byte("Meeting notes: the office opens at eight."), "title", "Office notes").JSON(t)["id"].(string)
	empty := b.Upload(keyA, "", "empty.html", []byte("<html><body><script>let x = 1</script></body></html>")).JSON(t)["id"].(string)
	for _, id := range []string{handbook, notes, empty} {
		b.WaitDocument(keyA, id)
	}
	a, other := b.signIn(keyA), b.signIn(keyB)

	t.Run("ShowsTheDocument", func(t *testing.T) {
		r := a.get("/console/documents/" + handbook)
		body := string(r.Body)
		if r.Status != 200 {
			t.Fatalf("GET the page: %d %.500s", r.Status, body)
		}
		for _, want := range []string{
			`href="/v1/documents/` + handbook + `/content"`, // the original
			`<span class="headings">Handbook</span>`,        // a chunk's heading path
			"Vacation is 25 days",                           // chunk text
			`<code>team</code> = people`, `<code>year</code> = 2026`,
			`id="versions"`, `id="history"`, `id="extracted"`,
			`name="csrf_token"`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("the page lacks %q", want)
			}
		}
		// The extracted text is whole: both sections, in order.
		text := regexp.MustCompile(`(?s)aria-label="Extracted text">(.*?)</div>`).FindStringSubmatch(body)
		if text == nil || !strings.Contains(text[1], "Leave") || strings.Index(text[1], "Vacation") > strings.Index(text[1], "Book trains") {
			t.Errorf("extracted text: %q", text)
		}
	})

	t.Run("OtherTenantGets404", func(t *testing.T) {
		for _, path := range []string{"/console/documents/" + handbook, "/console/documents/" + handbook + "?chunks=x"} {
			r := other.get(path)
			if r.Status != http.StatusNotFound || strings.Contains(string(r.Body), "handbook") || strings.Contains(string(r.Body), "Vacation") {
				t.Fatalf("tenant B's GET %s: %d %.300s", path, r.Status, r.Body)
			}
		}
		r := other.post("/console/documents/"+handbook+"/edit", url.Values{"csrf_token": {other.csrf()}, "title": {"mine"}, "tags": {""}, "metadata": {""}})
		if r.Status != http.StatusNotFound {
			t.Fatalf("tenant B's edit: %d", r.Status)
		}
		if d := b.Must(200, "GET", "/v1/documents/"+handbook, keyA, nil).JSON(t); d["title"] == "mine" {
			t.Fatal("tenant B renamed tenant A's document")
		}
		if r := a.get("/console/documents/not-a-uuid"); r.Status != http.StatusNotFound && r.Status != http.StatusBadRequest {
			t.Fatalf("a bad id: %d", r.Status)
		}
	})

	t.Run("EditsTitleTagsAndMetadata", func(t *testing.T) {
		token := a.csrf()
		r := a.post("/console/documents/"+notes+"/edit", url.Values{"csrf_token": {token}, "title": {"Office notes, March"},
			"tags": {"office, notes ,"}, "metadata": {"floor = 3\nbuilding = \"7\"\nopen = true\nnote = eight o'clock"}})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/console/documents/"+notes+"?done=document-saved" {
			t.Fatalf("save: %d %s %.300s", r.Status, r.Header.Get("Location"), r.Body)
		}
		d := b.Must(200, "GET", "/v1/documents/"+notes, keyA, nil).JSON(t)
		meta := d["metadata"].(map[string]any)
		if d["title"] != "Office notes, March" || meta["floor"] != 3.0 || meta["building"] != "7" || meta["open"] != true || meta["note"] != "eight o'clock" {
			t.Fatalf("after the edit: %v", d)
		}
		if tags := d["tags"].([]any); len(tags) != 2 || tags[0] != "notes" || tags[1] != "office" {
			t.Fatalf("tags %v", tags)
		}
		b.WaitDocument(keyA, notes)
		// The form reads back as it was saved.
		page := string(a.get("/console/documents/" + notes).Body)
		if !strings.Contains(page, `building = &#34;7&#34;`) || !strings.Contains(page, "floor = 3") {
			t.Errorf("the editor does not show the metadata as saved: %.3000s", page)
		}
		// Bad input: a clear message beside the field, nothing changed.
		for _, bad := range []struct{ field, value, says string }{
			{"metadata", "no equals sign here", "key = value"},
			{"metadata", "a = 1\na = 2", "comes twice"},
			{"title", "   ", "blank"},
			{"tags", strings.Repeat("x", 65), "characters"},
		} {
			form := url.Values{"csrf_token": {token}, "title": {"t"}, "tags": {""}, "metadata": {""}}
			form.Set(bad.field, bad.value)
			r := a.post("/console/documents/"+notes+"/edit", form)
			if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), bad.says) || !strings.Contains(string(r.Body), `class="field-error"`) {
				t.Errorf("%s %q: %d, want 400 saying %q: %.2000s", bad.field, bad.value, r.Status, bad.says, r.Body)
			}
		}
		if d := b.Must(200, "GET", "/v1/documents/"+notes, keyA, nil).JSON(t); d["title"] != "Office notes, March" {
			t.Fatalf("a refused edit changed the title to %v", d["title"])
		}
		if r := a.post("/console/documents/"+notes+"/edit", url.Values{"title": {"x"}}); r.Status != http.StatusForbidden {
			t.Fatalf("an edit without the CSRF token: %d", r.Status)
		}
	})

	t.Run("ListCountsSearchesAndSorts", func(t *testing.T) {
		body := string(a.get("/console/documents").Body)
		if !strings.Contains(body, "3 documents") {
			t.Errorf("no total on the list: %.2000s", body)
		}
		if !strings.Contains(body, `href="/console/documents/`+handbook+`"`) {
			t.Error("the list does not link the document's page")
		}
		body = string(a.get("/console/documents?title=NOTES").Body)
		if !strings.Contains(body, "1 document match") || !strings.Contains(body, notes) || strings.Contains(body, handbook) {
			t.Errorf("title search: %.3000s", body)
		}
		rows := func(q string) []string {
			var ids []string
			for _, m := range regexp.MustCompile(`data-document="([^"]+)"`).FindAllStringSubmatch(string(a.get("/console/documents?"+q).Body), -1) {
				ids = append(ids, m[1])
			}
			return ids
		}
		// handbook.md's title (from its heading) is "Handbook"; the HTML
		// page's is its file name.
		if got := rows("sort=title"); !slices.Equal(got, []string{empty, handbook, notes}) {
			t.Errorf("title A-Z: %v", got)
		}
		if got := rows("sort=oldest"); !slices.Equal(got, []string{handbook, notes, empty}) {
			t.Errorf("oldest first: %v", got)
		}
		if r := a.get("/console/documents?sort=bogus"); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "no such order") {
			t.Errorf("a bad order: %d", r.Status)
		}
	})

	t.Run("ActionsOnlyWhereTheyApply", func(t *testing.T) {
		body := string(a.get("/console/documents").Body)
		row := func(id string) string {
			i := strings.Index(body, `data-document="`+id+`"`)
			if i < 0 {
				t.Fatalf("no row for %s", id)
			}
			end := strings.Index(body[i:], "</tr>")
			return body[i : i+end]
		}
		if !strings.Contains(row(handbook), `aria-label="Reindex`) {
			t.Error("a ready document offers no reindex")
		}
		// empty.html failed no_text: a reindex of the same file cannot help.
		if r := row(empty); strings.Contains(r, `aria-label="Reindex`) || !strings.Contains(r, `aria-label="Delete`) || !strings.Contains(r, "no_text") {
			t.Errorf("the no_text row: %s", r)
		}
	})

	t.Run("ActionsKeepTheFilters", func(t *testing.T) {
		form := url.Values{"csrf_token": {a.csrf()}, "status": {"ready"}, "tag": {"hr"}, "title": {"hand"}, "sort": {"title"}}
		r := a.post("/console/documents/"+handbook+"/reindex", form)
		loc, _ := url.Parse(r.Header.Get("Location"))
		if r.Status != http.StatusSeeOther || loc == nil || loc.Path != "/console/documents" {
			t.Fatalf("reindex: %d %s", r.Status, r.Header.Get("Location"))
		}
		q := loc.Query()
		for k, want := range map[string]string{"status": "ready", "tag": "hr", "title": "hand", "sort": "title", "done": "reindexed"} {
			if q.Get(k) != want {
				t.Errorf("after reindex, %s = %q, want %q (%s)", k, q.Get(k), want, loc)
			}
		}
		b.WaitDocument(keyA, handbook)
		// From the document's page, back to it.
		r = a.post("/console/documents/"+handbook+"/reindex", url.Values{"csrf_token": {a.csrf()}, "from": {"document"}})
		if r.Header.Get("Location") != "/console/documents/"+handbook+"?done=reindexed" {
			t.Errorf("reindex from the page goes to %q", r.Header.Get("Location"))
		}
		b.WaitDocument(keyA, handbook)
		// The page's history now has the three versions.
		if n := strings.Count(string(a.get("/console/documents/"+handbook).Body), `<tr data-current="true">`); n != 1 {
			t.Errorf("%d current versions shown", n)
		}
		if d := b.Must(200, "GET", "/v1/documents/"+handbook, keyA, nil).JSON(t); d["content_version"] != 3.0 {
			t.Errorf("content version %v after two reindexes", d["content_version"])
		}
	})

	t.Run("ReindexWithPassword", func(t *testing.T) {
		const password = "s3cret pass"
		pdf := extracttest.EncryptPDF(t, extracttest.ReportPDF(), t.TempDir(), "locked", password, "owner-pw", "256")
		id := b.Upload(keyA, "", "locked.pdf", pdf).JSON(t)["id"].(string)
		if d := b.WaitDocument(keyA, id); d["status"] != "failed" {
			t.Fatalf("a protected PDF without its password: %v", d)
		}
		list := string(a.get("/console/documents?status=failed").Body)
		if !strings.Contains(list, `href="/console/documents/`+id+`#reindex"`) {
			t.Errorf("the pdf_encrypted row does not lead to the password: %.3000s", list)
		}
		page := string(a.get("/console/documents/" + id).Body)
		if !strings.Contains(page, `id="reindex-password" name="password" type="password" autocomplete="off" required`) {
			t.Fatalf("the page asks for no password: %.4000s", page)
		}
		// A wrong password fails again; the right one opens it.
		for _, pw := range []string{"wrong", password} {
			r := a.post("/console/documents/"+id+"/reindex", url.Values{"csrf_token": {a.csrf()}, "from": {"document"}, "password": {pw}})
			if r.Status != http.StatusSeeOther {
				t.Fatalf("reindex with a password: %d %.300s", r.Status, r.Body)
			}
			d := b.WaitDocument(keyA, id)
			if want := map[bool]string{true: "ready", false: "failed"}[pw == password]; d["status"] != want {
				t.Fatalf("with password %q: %v, want %s", pw, d["status"], want)
			}
		}
		if page := string(a.get("/console/documents/" + id).Body); strings.Contains(page, password) {
			t.Error("the page shows the password")
		}
	})
}
