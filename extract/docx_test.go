package extract

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ragd/ragd/extract/extracttest"
)

// blocks joins paragraphs as the builder separates them.
func blocks(ps ...string) string { return strings.Join(ps, "\n\n") }

func TestExtractDOCXTextBox(t *testing.T) {
	t.Parallel()
	para, runs, run := extracttest.WPara, extracttest.WParaRuns, extracttest.WRun
	box := extracttest.WTextBox(para("", "Box one."), para("", "Box two."))
	// Word 2003 and some converters write the VML alone.
	vmlBox := `<w:r><w:pict><v:shape type="#_x0000_t202"><v:textbox><w:txbxContent>` +
		para("", "Box one.") + para("", "Box two.") + `</w:txbxContent></v:textbox></v:shape></w:pict></w:r>`
	cases := map[string]struct{ body, want string }{
		"AnchorFirst": {
			para("", "Before.") + runs(box, run("Anchor text.")) + para("", "After."),
			blocks("Before.", "Anchor text.", "Box one.", "Box two.", "After."),
		},
		"AnchorMidParagraph": {
			para("", "Before.") + runs(run("Anchor "), box, run("text.")) + para("", "After."),
			blocks("Before.", "Anchor text.", "Box one.", "Box two.", "After."),
		},
		"AnchorAlone": {
			para("", "Before.") + runs(box) + para("", "After."),
			blocks("Before.", "Box one.", "Box two.", "After."),
		},
		"TwoBoxes": {
			runs(run("Anchor."), box, extracttest.WTextBox(para("", "Box three."))),
			blocks("Anchor.", "Box one.", "Box two.", "Box three."),
		},
		"VMLOnly": {
			para("", "Before.") + runs(run("Anchor."), vmlBox) + para("", "After."),
			blocks("Before.", "Anchor.", "Box one.", "Box two.", "After."),
		},
		"InTableCell": {
			para("", "Before.") + `<w:tbl><w:tr><w:tc>` + runs(run("Cell."), box) + `</w:tc><w:tc>` + para("", "Next cell.") +
				`</w:tc></w:tr></w:tbl>` + para("", "After."),
			"Before.\n\nCell. Box one. Box two. | Next cell.\n\nAfter.",
		},
		"InHeading": {
			`<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr>` + run("Title.") + box + `</w:p>` + para("", "Body."),
			blocks("Title.", "Box one.", "Box two.", "Body."),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ext := mustExtract(t, TypeDOCX, extracttest.MakeDOCX(tc.body))
			if ext.Text != tc.want {
				t.Fatalf("text = %q, want %q", ext.Text, tc.want)
			}
		})
	}
}

// TestExtractDOCXNesting covers the other ways Word nests paragraphs and
// runs: each word must come out once, in document order.
func TestExtractDOCXNesting(t *testing.T) {
	t.Parallel()
	para, runs, run := extracttest.WPara, extracttest.WParaRuns, extracttest.WRun
	cases := map[string]struct{ body, want string }{
		"ContentControls": {
			`<w:sdt><w:sdtPr><w:alias w:val="Outer"/></w:sdtPr><w:sdtContent>` + para("", "One.") +
				`<w:sdt><w:sdtPr><w:alias w:val="Inner"/></w:sdtPr><w:sdtContent>` + para("", "Two.") + `</w:sdtContent></w:sdt>` +
				`<w:p><w:sdt><w:sdtContent>` + run("Three") + `</w:sdtContent></w:sdt>` + run(" four.") + `</w:p>` +
				`</w:sdtContent></w:sdt>`,
			blocks("One.", "Two.", "Three four."),
		},
		"CustomXML": {
			`<w:customXml w:element="a"><w:customXml w:element="b">` + para("", "One.") + `</w:customXml>` +
				`<w:p><w:customXml w:element="c">` + run("Two") + `</w:customXml>` + run(" three.") + `</w:p></w:customXml>`,
			blocks("One.", "Two three."),
		},
		"NestedAlternateContent": {
			`<w:p>` + run("Anchor.") + `<w:r><mc:AlternateContent><mc:Choice Requires="wps">` +
				`<mc:AlternateContent><mc:Choice Requires="wps"><w:t>Choice.</w:t></mc:Choice><mc:Fallback><w:t>Choice.</w:t></mc:Fallback></mc:AlternateContent>` +
				`</mc:Choice><mc:Fallback><w:t>Fallback.</w:t></mc:Fallback></mc:AlternateContent></w:r></w:p>`,
			"Anchor.Choice.",
		},
		"FallbackAlone": {
			`<w:p>` + run("Anchor.") + `<w:r><mc:AlternateContent><mc:Fallback><w:t>Fallback.</w:t></mc:Fallback></mc:AlternateContent></w:r></w:p>`,
			"Anchor.Fallback.",
		},
		"TextBoxInTextBox": {
			runs(run("Outer."), extracttest.WTextBox(runs(run("Middle."), extracttest.WTextBox(para("", "Inner."))), para("", "Middle two."))) + para("", "After."),
			blocks("Outer.", "Middle.", "Inner.", "Middle two.", "After."),
		},
		"NestedTables": {
			`<w:tbl><w:tr><w:tc>` + para("", "Outer a.") + extracttest.WTable([]string{"Inner a.", "Inner b."}, []string{"Inner c.", ""}) +
				para("", "Outer a2.") + `</w:tc><w:tc>` + para("", "Outer b.") + `</w:tc></w:tr>` +
				`<w:tr><w:tc>` + para("", "Row two.") + `</w:tc></w:tr></w:tbl>`,
			"Outer a. Inner a. | Inner b. Inner c. | Outer a2. | Outer b.\nRow two.",
		},
		"TableInTextBox": {
			runs(run("Anchor."), extracttest.WTextBox(extracttest.WTable([]string{"A", "B"}))) + para("", "After."),
			"Anchor.\n\nA | B\n\nAfter.",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ext := mustExtract(t, TypeDOCX, extracttest.MakeDOCX(tc.body))
			if ext.Text != tc.want {
				t.Fatalf("text = %q, want %q", ext.Text, tc.want)
			}
		})
	}
}

func TestExtractDOCXDepthLimit(t *testing.T) {
	t.Parallel()
	// customXml levels around one paragraph: w:document, w:body, the
	// levels, then w:p, w:r and w:t put w:t at depth levels+5.
	wrapped := func(levels int) []byte {
		return extracttest.MakeDOCX(strings.Repeat(`<w:customXml>`, levels) + extracttest.WPara("", "deep") + strings.Repeat(`</w:customXml>`, levels))
	}
	t.Run("AtLimit", func(t *testing.T) {
		t.Parallel()
		if ext := mustExtract(t, TypeDOCX, wrapped(maxOfficeXMLDepth-5)); ext.Text != "deep" {
			t.Fatalf("text = %q", ext.Text)
		}
	})
	t.Run("OverLimit", func(t *testing.T) {
		t.Parallel()
		_, err := Extract(t.Context(), TypeDOCX, wrapped(maxOfficeXMLDepth-4), Limits{})
		wantCode(t, err, CodeTooComplex)
	})
	t.Run("NestedParagraphsOnce", func(t *testing.T) {
		t.Parallel()
		// As deep as the limit allows (five elements a level); each
		// level used to repeat the innermost text.
		ext := mustExtract(t, TypeDOCX, extracttest.NestedDOCX((maxOfficeXMLDepth-5)/5))
		if ext.Text != "nested" {
			t.Fatalf("text = %q", ext.Text)
		}
	})
}

// TestExtractDOCXMillionNested: a million nested paragraphs are refused as
// too large after little work (bounded allocation). It is not parallel:
// it measures allocation, which is counted for the whole process.
func TestExtractDOCXMillionNested(t *testing.T) {
	data := extracttest.NestedDOCX(1_000_000)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err := Extract(t.Context(), TypeDOCX, data, Limits{})
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	wantCode(t, err, CodeTooComplex)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d-byte file: %v in %v, %d bytes allocated", len(data), err, took, alloc)
	if alloc > 16<<20 { // its time is BenchmarkExtractDOCXMillionNested's
		t.Errorf("allocated %d MiB", alloc>>20)
	}
}
