package sandbox

import (
	"bytes"
	"fmt"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/extract/extracttest"
)

// TestHostileFiles gives a pool files built to hurt a parser, one after
// the other, as the ingest pipeline gives it uploads: the type is the one
// extract.Detect finds, the limits a server's. For each: the file ends
// with a failure that has a code and a message for people, or with the
// right text; a child that a file killed is gone; this process's
// goroutines and CPU are back to idle; and a good document extracted next
// is read right. With -v it prints one line per file (RELIABILITY.md
// quotes them). The server around the pool is TestHostileUploads' (api).
//
// It does not run in parallel: the goroutines and CPU it measures are the
// whole test process's.
func TestHostileFiles(t *testing.T) {
	// Honest files get room (the race detector makes them several times
	// slower, and its shadow memory counts); files that make a parser loop
	// get a short clock, which is what ends them.
	honest := extract.Limits{MaxTextBytes: 4 << 20, MaxUnzippedBytes: 16 << 20, Timeout: 30 * time.Second, Memory: 512 << 20}
	if raceEnabled {
		honest.Memory = 4 << 30
	}
	honest.CPU = honest.WithDefaults().CPU
	looping := honest // the same CPU limit: the same children serve both
	looping.Timeout = 2 * time.Second
	smallText := honest
	smallText.MaxTextBytes = 1 << 20
	laughs := `<!DOCTYPE lolz [<!ENTITY lol "lol">` // the billion laughs: each level ten of the one below
	for i := 2; i <= 9; i++ {
		laughs += fmt.Sprintf(`<!ENTITY lol%d "%s">`, i, strings.Repeat(fmt.Sprintf("&lol%s;", map[bool]string{true: "", false: fmt.Sprint(i - 1)}[i == 2]), 10))
	}
	laughs += "]>"
	b := setupSandbox(t)
	good := func(i int) {
		t.Helper()
		text := fmt.Sprintf("A good document number %d extracted after a hostile one.", i)
		got, err := b.sb.Extract(t.Context(), extract.TypeText, BytesOpener([]byte(text)), honest)
		if err != nil || got.Text != text {
			t.Fatalf("the good document after a hostile one: %q, %v", got.Text, err)
		}
	}
	good(0) // warm: a child is started
	idleGoroutines := runtime.NumGoroutine()

	cases := []struct {
		name, file string
		data       []byte
		lim        extract.Limits
		// want: "failed" (any code), "failed:<code>", or "ready:<text it must hold once>"
		want string
	}{
		{"PDF xref declaring 10^12 objects", "xref.pdf", extracttest.HugeXrefPDF(), honest, "failed"},
		// A dense drawing: honest, but more than the short clock allows.
		{"PDF drawing of 10^7 segments", "drawing.pdf", extracttest.DrawingPDF(10_000_000), looping, "failed"},
		// Found at once, without the clock.
		{"PDF xref /Prev loop", "prev.pdf", extracttest.PrevLoopPDF(), honest, "failed:pdf_malformed"},
		{"PDF xref stream /Prev loop", "xrefstm.pdf", extracttest.XRefStmLoopPDF(), honest, "failed:pdf_malformed"},
		{"PDF self-referencing /Pages", "pages.pdf", extracttest.SelfPagesPDF(), honest, "failed:pdf_malformed"},
		{"PDF arrays nested 10^6 deep", "arrays.pdf", extracttest.NestedArraysPDF(1_000_000), honest, "failed:pdf_malformed"},
		{"PDF dictionaries nested 10^6 deep", "dicts.pdf", extracttest.NestedDictsPDF(1_000_000), honest, "failed:pdf_malformed"},
		{"PDF object stream of 10^6 objects", "objstm.pdf", extracttest.ObjectStreamPDF(1_000_000), honest, "ready:Object stream"},
		{"PDF stream /Length past the end", "long.pdf", extracttest.LyingLengthPDF(), honest, "failed"},
		{"PDF stream /Length too short", "short.pdf", extracttest.ShortLengthPDF(), honest, "failed"},
		{"PDF truncated", "cut.pdf", extracttest.ReportPDF()[:900], honest, "failed"},
		{"DOCX paragraphs nested 10^6 deep", "nested.docx", extracttest.NestedDOCX(1_000_000), honest, "failed:too_complex"},
		{"DOCX with a text box", "box.docx", extracttest.TextBoxDOCX(), honest, "ready:Inside the box."},
		{"DOCX zip bomb", "bomb.docx", extracttest.ZipBombDOCX(1 << 30), honest, "failed:too_large"},
		{"HTML nested 10^5 deep", "deep.html", []byte(strings.Repeat("<div>", 100_000) + "deep text" + strings.Repeat("</div>", 100_000)), honest, "ready:deep text"},
		{"Markdown of 10^5 nested quotes", "quotes.md", []byte(strings.Repeat(">", 100_000) + " quoted"), honest, "ready:quoted"},
		{"Text of one 1 MiB line", "line.txt", bytes.Repeat([]byte("x"), 1<<20), honest, "ready:xxxx"},
		{"Text over the text limit", "big.txt", bytes.Repeat([]byte("word "), 1<<20), honest, "failed:too_large"},
		// Office files, books and mail (issue 24): each within its limits.
		{"PPTX zip bomb", "bomb.pptx", extracttest.ZipBomb(1<<30, "ppt/presentation.xml"), honest, "failed:too_large"},
		{"XLSX zip bomb", "bomb.xlsx", extracttest.ZipBomb(1<<30, "xl/workbook.xml"), honest, "failed:too_large"},
		{"EPUB zip bomb", "bomb.epub", extracttest.ZipBomb(1<<30, "OEBPS/content.opf", "mimetype", "application/epub+zip", "META-INF/container.xml", extracttest.EPUBContainer), honest, "failed:too_large"},
		{"XLSX billion laughs", "laughs.xlsx", extracttest.XLSX(laughs, `<sheetData><row><c t="inlineStr"><is><t>&lol9;</t></is></c></row></sheetData>`), honest, "failed:unsupported_type"},
		{"XLSX declaring A1:XFD1048576", "wide.xlsx", extracttest.XLSX("", `<dimension ref="A1:XFD1048576"/><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Corner</t></is></c></row>`+
			`<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>Far cell</t></is></c></row></sheetData>`), honest, "ready:Far cell"},
		{"XLSX of 10^5 rows over the text limit", "rows.xlsx", extracttest.XLSXRows(100_000), smallText, "failed:too_large"},
		{"ODS cell repeated 10^9 x 10^9", "repeat.ods", extracttest.ODS(`<office:spreadsheet><table:table table:name="S"><table:table-row table:number-rows-repeated="999999999">` +
			`<table:table-cell table:number-columns-repeated="999999999" office:value-type="string"><text:p>X</text:p></table:table-cell></table:table-row></table:table></office:spreadsheet>`), honest, "failed:too_large"},
		{"ODT spans nested 10^5 deep", "deep.odt", extracttest.ODT(strings.Repeat("<text:span>", 100_000)), honest, "failed:too_complex"},
		{"PPTX groups nested 10^5 deep", "deep.pptx", extracttest.PPTX(strings.Repeat("<p:grpSp>", 100_000) + extracttest.PPTXShape("Deep") + strings.Repeat("</p:grpSp>", 100_000)), honest, "failed"},
		{"EPUB spine naming one chapter 10^5 times", "spine.epub", extracttest.EPUB([]string{"<p>Only chapter.</p>"}, []int{100_000}), honest, "ready:Only chapter."},
		{"EML multiparts nested 10^4 deep", "deep.eml", extracttest.NestedEML(10_000, "Bottom text."), honest, "ready:Subject: Nested"},
		{"EML of 10^4 attachments", "many.eml", extracttest.AttachmentsEML(10_000), honest, "ready:The body of a message"},
		{"CSV of one 8 MiB field", "field.csv", []byte("Name\n\"" + strings.Repeat("x", 8<<20) + "\"\n"), honest, "failed:too_large"},
		{"CSV of 10^6 columns", "wide.csv", wideCSV(1_000_000), honest, "ready:c16383: v16383"}, // columns stop at Excel's 16,384
	}
	for i, tc := range cases {
		typ, ok := extract.Detect(bytes.NewReader(tc.data), int64(len(tc.data)), tc.file)
		if !ok {
			t.Errorf("%s: not detected as a document", tc.name)
			continue
		}
		before := len(b.lastRuns())
		start := time.Now()
		got, err := b.sb.Extract(t.Context(), typ, BytesOpener(tc.data), tc.lim)
		took := time.Since(start)
		status, code := "ready", ""
		if e, ok := extract.AsError(err); ok {
			status, code = "failed", e.Code
			if e.Message == "" {
				t.Errorf("%s: failed without a message for people", tc.name)
			}
		} else if err != nil {
			t.Fatalf("%s: %v, which is not the file's failure", tc.name, err)
		}
		want, arg, _ := strings.Cut(tc.want, ":")
		switch {
		case status != want:
			t.Errorf("%s: %s (%s), want %s", tc.name, status, code, tc.want)
		case want == "failed" && arg != "" && code != arg:
			t.Errorf("%s: failed with %s, want %s", tc.name, code, arg)
		case want == "ready":
			if n := strings.Count(got.Text, arg); n < 1 || (arg != "xxxx" && n != 1) {
				t.Errorf("%s: ready, but %q appears %d times in its text", tc.name, arg, n)
			}
		}
		mine := b.lastRuns()[before:]
		var rss int64
		var outcomes []string
		for _, run := range mine {
			rss = max(rss, run.PeakRSS)
			outcomes = append(outcomes, run.Outcome)
		}
		assertGone(t, mine)
		settled := waitIdle(t, idleGoroutines)
		t.Logf("%-36s %-7s %-16s %6.2fs  child peak RSS %4d MiB  children %v  idle again in %s",
			tc.name, status, code, took.Seconds(), rss>>20, outcomes, settled.Round(10*time.Millisecond))
		good(i + 1)
	}
}

// waitIdle waits until this process's goroutines are back to idle (the
// pool's, with a warm child) and it uses (almost) no CPU, and says how
// long that took. A goroutine of the pool's that outlived its document
// keeps the count up until the test's deadline ends it.
func waitIdle(t *testing.T, idleGoroutines int) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		cpu0 := selfCPU()
		time.Sleep(300 * time.Millisecond)
		busy := selfCPU() - cpu0
		if runtime.NumGoroutine() <= idleGoroutines && busy < 60*time.Millisecond {
			return time.Since(start)
		}
		if deadline, ok := t.Deadline(); ok && time.Until(deadline) < 10*time.Second {
			var dump bytes.Buffer
			_ = pprof.Lookup("goroutine").WriteTo(&dump, 1)
			t.Log(dump.String())
			t.Fatalf("not idle after %s: %d goroutines (idle: %d), %s of CPU in 300ms", time.Since(start), runtime.NumGoroutine(), idleGoroutines, busy)
		}
	}
}

// wideCSV is a CSV of a header row c0, c1... and a row v0, v1... of n
// columns.
func wideCSV(n int) []byte {
	var b bytes.Buffer
	for _, prefix := range []string{"c", "v"} {
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%s%d", prefix, i)
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}
