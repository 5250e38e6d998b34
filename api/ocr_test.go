package api_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ragd/ragd/api/apitest"
	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/extract/extracttest"
)

// ocrBundle is a server whose extraction reads scans with tesseract,
// which knows the languages installed (eng and, say, deu: not tesseract's
// own list, so that the test does not depend on the machine's packs).
func ocrBundle(t *testing.T) *testBundle {
	t.Helper()
	tools := extract.FindOCRTools()
	if tools.Tesseract == "" || tools.Pdftoppm == "" {
		t.Fatal("tesseract or pdftoppm is not installed (scripts/test-deps.sh, which make test runs, installs them)")
	}
	lim := testLimits
	lim.Tesseract, lim.Pdftoppm = tools.Tesseract, tools.Pdftoppm
	return setupWith(t, apitest.Options{Limits: lim, OCRLanguages: []string{"eng", "deu"}})
}

// scanLetter renders a one-page letter at dpi, as a scanner would.
func scanLetter(t *testing.T, format string, lines ...string) []byte {
	t.Helper()
	var page strings.Builder
	for i, l := range lines {
		page.WriteString(extracttest.PDFText(72, 700-float64(i)*22, 14, l))
	}
	return extracttest.RenderPage(t, extracttest.MakePDF([]string{page.String()}), 1, 200, format)
}

// TestOCRSettings: each OCR'd page is recorded with its confidence on the
// document; an upload may turn OCR off or choose its languages, which a
// reindex may change; settings the server cannot honour are refused at
// upload with the field named.
func TestOCRSettings(t *testing.T) {
	t.Parallel()
	b := ocrBundle(t)
	_, key := b.TenantWithKey("acme")
	lines := []string{"The boiler maintenance contract renews", "every March for buildings seven and nine."}
	png := scanLetter(t, "png", lines...)
	jpeg := scanLetter(t, "jpeg", lines...)
	// Page 1 has a text layer, page 2 is the scan.
	pdf := extracttest.ScanPDF([]string{extracttest.PDFText(72, 700, 14, "A cover page with a real text layer on it."), ""}, [][]byte{nil, jpeg})

	t.Run("PagesRecorded", func(t *testing.T) {
		r := b.Upload(key, "", "letter.png", png, "ocr_languages", "eng")
		if r.Status != 202 {
			t.Fatalf("upload: %d %s", r.Status, r.Body)
		}
		d := b.WaitDocument(key, r.JSON(t)["id"].(string))
		pages, _ := d["ocr_pages"].([]any)
		if d["status"] != "ready" || d["ocr_languages"] != "eng" || len(pages) != 1 {
			t.Fatalf("document: %v", d)
		}
		p := pages[0].(map[string]any)
		conf, _ := p["confidence"].(float64)
		if p["page"] != float64(1) || p["kept"] != true || conf < extract.MinOCRConfidence || conf > 100 || p["words"].(float64) < 10 {
			t.Fatalf("page: %v", p)
		}
	})

	t.Run("MixedPDF", func(t *testing.T) {
		r := b.Upload(key, "", "mixed.pdf", pdf)
		d := b.WaitDocument(key, r.JSON(t)["id"].(string))
		pages, _ := d["ocr_pages"].([]any)
		if d["status"] != "ready" || d["ocr"] != nil || len(pages) != 1 || pages[0].(map[string]any)["page"] != float64(2) {
			t.Fatalf("a PDF whose page 2 alone is a scan: %v", d)
		}
	})

	t.Run("OffThenOnByReindex", func(t *testing.T) {
		// Bytes of its own, so that no other subtest's document is a duplicate.
		scan := extracttest.ScanPDF([]string{""}, [][]byte{jpeg})
		r := b.Upload(key, "", "scan.pdf", scan, "ocr", "false")
		id := r.JSON(t)["id"].(string)
		d := b.WaitDocument(key, id)
		if e, _ := d["error"].(map[string]any); d["status"] != "failed" || e["code"] != "no_text" || d["ocr"] != false || d["ocr_pages"] != nil {
			t.Fatalf("a scan with OCR off: %v", d)
		}
		b.Must(202, "POST", "/v1/documents/"+id+"/reindex", key, map[string]any{"ocr": true})
		d = b.WaitDocument(key, id)
		pages, _ := d["ocr_pages"].([]any)
		if d["status"] != "ready" || d["ocr"] != true || len(pages) != 1 {
			t.Fatalf("reindexed with OCR on: %v", d)
		}
		if text := b.chunkText(key, id); !strings.Contains(text, "buildings seven and nine") {
			t.Fatalf("chunks: %q", text)
		}
	})

	t.Run("RetryByUploadingAgain", func(t *testing.T) {
		scan := extracttest.ScanPDF([]string{"", ""}, [][]byte{jpeg, jpeg})
		id := b.Upload(key, "", "twice.pdf", scan, "ocr", "false").JSON(t)["id"].(string)
		if d := b.WaitDocument(key, id); d["status"] != "failed" {
			t.Fatalf("with OCR off: %v", d)
		}
		r := b.Upload(key, "", "twice.pdf", scan, "ocr", "true")
		if r.Status != 200 || r.JSON(t)["id"] != id {
			t.Fatalf("the same bytes with OCR on: %d %s", r.Status, r.Body)
		}
		if d := b.WaitDocument(key, id); d["status"] != "ready" || d["content_version"] != float64(2) {
			t.Fatalf("after the upload with OCR on: %v", d)
		}
	})

	t.Run("Refused", func(t *testing.T) {
		for _, tc := range []struct {
			name, file string
			data       []byte
			fields     []string
			field      string
		}{
			{"ImageWithOCROff", "x.png", png, []string{"ocr", "false"}, "ocr"},
			{"NotABoolean", "x.pdf", pdf, []string{"ocr", "maybe"}, "ocr"},
			{"NotInstalled", "x.pdf", pdf, []string{"ocr_languages", "eng+fra"}, "ocr_languages"},
			{"Hostile", "x.pdf", pdf, []string{"ocr_languages", "eng;rm -rf /"}, "ocr_languages"},
			{"TooLong", "x.pdf", pdf, []string{"ocr_languages", strings.Repeat("eng+", 100) + "eng"}, "ocr_languages"},
		} {
			r := b.Upload(key, "", tc.file, tc.data, tc.fields...)
			if r.Status != 400 || !strings.Contains(string(r.Body), fmt.Sprintf("%q", tc.field)) {
				t.Errorf("%s: %d %s, want 400 naming %s", tc.name, r.Status, r.Body, tc.field)
			}
		}
		if r := b.Upload(key, "", "x.pdf", pdf, "ocr_languages", "eng+fra"); !strings.Contains(string(r.Body), "installed: eng, deu") {
			t.Errorf("an uninstalled language: %s, want the installed ones named", r.Body)
		}
		// A reindex is held to the same rules.
		id := b.Upload(key, "", "letter2.png", scanLetter(t, "png", "Another letter, about the roof repairs."), "title", "roof").JSON(t)["id"].(string)
		b.WaitDocument(key, id)
		for _, body := range []map[string]any{{"ocr": false}, {"ocr_languages": "xyz"}, {"ocr_languages": "eng deu"}} {
			if r := b.Req("POST", "/v1/documents/"+id+"/reindex", key, body); r.Status != 400 {
				t.Errorf("reindex %v: %d %s, want 400", body, r.Status, r.Body)
			}
		}
		if d := b.Must(200, "GET", "/v1/documents/"+id, key, nil).JSON(t); d["content_version"] != float64(1) || d["ocr"] != nil {
			t.Errorf("a refused reindex changed the document: %v", d)
		}
	})
}

// TestOCROffServer: a server without OCR refuses OCR settings, since it
// cannot honour them, but accepts ocr=false.
func TestOCROffServer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, key := b.TenantWithKey("acme")
	pdf := extracttest.ReportPDF()
	for _, f := range [][]string{{"ocr", "true"}, {"ocr_languages", "eng"}} {
		if r := b.Upload(key, "", "r.pdf", pdf, f...); r.Status != 400 || !strings.Contains(string(r.Body), "RAGD_OCR") {
			t.Errorf("%v: %d %s, want 400 naming RAGD_OCR", f, r.Status, r.Body)
		}
	}
	if r := b.Upload(key, "", "r.pdf", pdf, "ocr", "false"); r.Status != 202 {
		t.Errorf("ocr=false: %d %s", r.Status, r.Body)
	}
}
