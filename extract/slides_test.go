package extract

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// slidesZip builds a zip of parts given as name, content pairs, in order.
func slidesZip(t *testing.T, parts ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i+1 < len(parts); i += 2 {
		w, err := zw.Create(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(parts[i+1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// slidesOutline renders what a test checks of an extraction: each
// section's page and heading path, then its text.
func slidesOutline(ext Extracted) string {
	var b strings.Builder
	for _, s := range ext.Sections {
		page := 0
		for _, p := range ext.Pages {
			if s.Start >= p.Start && s.Start < p.End {
				page = p.Number
			}
			if p.Start < s.Start && p.End > s.Start || p.End > s.End && p.Start < s.End {
				fmt.Fprintf(&b, "(page %d straddles section %v)\n", p.Number, s.HeadingPath)
			}
		}
		fmt.Fprintf(&b, "p%d %s\n%s\n", page, strings.Join(s.HeadingPath, " > "), strings.TrimRight(ext.Text[s.Start:s.End], "\n"))
	}
	return b.String()
}

const (
	pptxPNS = `xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"`
	pptxRel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
)

func pptxRels(rels ...string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`)
	for i := 0; i+2 < len(rels); i += 3 {
		fmt.Fprintf(&b, `<Relationship Id="%s" Type="%s%s" Target="%s"/>`, rels[i], pptxRel, rels[i+1], rels[i+2])
	}
	b.WriteString(`</Relationships>`)
	return b.String()
}

// pptxShape is a p:sp with placeholder type ph ("" for none, "body" for a
// body placeholder) and one a:p per paragraph.
func pptxShape(ph string, paras ...string) string {
	var b strings.Builder
	b.WriteString(`<p:sp><p:nvSpPr><p:cNvPr id="2" name="x"/><p:cNvSpPr/><p:nvPr>`)
	if ph != "" {
		fmt.Fprintf(&b, `<p:ph type="%s"/>`, ph)
	}
	b.WriteString(`</p:nvPr></p:nvSpPr><p:spPr/><p:txBody><a:bodyPr/>`)
	for _, p := range paras {
		b.WriteString(`<a:p>`)
		for i, run := range strings.Split(p, "|") {
			if i > 0 {
				b.WriteString(`<a:br/>`)
			}
			fmt.Fprintf(&b, `<a:r><a:rPr lang="en-US"/><a:t>%s</a:t></a:r>`, run)
		}
		b.WriteString(`</a:p>`)
	}
	b.WriteString(`</p:txBody></p:sp>`)
	return b.String()
}

func pptxTable(rows ...[]string) string {
	var b strings.Builder
	b.WriteString(`<p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id="4" name="Table"/><p:cNvGraphicFramePr/><p:nvPr/></p:nvGraphicFramePr><a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/table"><a:tbl>`)
	for _, r := range rows {
		b.WriteString(`<a:tr h="0">`)
		for _, c := range r {
			if c == "<merged>" {
				b.WriteString(`<a:tc hMerge="1"><a:txBody><a:bodyPr/><a:p><a:r><a:t>HIDDEN</a:t></a:r></a:p></a:txBody></a:tc>`)
				continue
			}
			fmt.Fprintf(&b, `<a:tc><a:txBody><a:bodyPr/><a:p><a:r><a:t>%s</a:t></a:r></a:p></a:txBody></a:tc>`, c)
		}
		b.WriteString(`</a:tr>`)
	}
	b.WriteString(`</a:tbl></a:graphicData></a:graphic></p:graphicFrame>`)
	return b.String()
}

func pptxSlideXML(attrs string, shapes ...string) string {
	return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><p:sld ` + pptxPNS + attrs + `><p:cSld><p:spTree><p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr><p:grpSpPr/>` +
		strings.Join(shapes, "") + `</p:spTree></p:cSld></p:sld>`
}

func pptxNotesXML(text string) string {
	return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><p:notes ` + pptxPNS + `><p:cSld><p:spTree>` +
		pptxShape("sldImg") + pptxShape("body", text) + pptxShape("sldNum", "7") + `</p:spTree></p:cSld></p:notes>`
}

// pptxDeck is a presentation whose slides are the given slide parts, in
// that order, listed in presentation.xml in reverse order of their part
// names (so that the order must come from the list). core is
// docProps/core.xml's title ("" for no core part).
func pptxDeck(t *testing.T, core string, slides []string, notes map[int]string) []byte {
	t.Helper()
	n := len(slides)
	var ids, presRels []string
	var parts []string
	for i, s := range slides {
		num := n - i // slide i+1 of the deck is part slide(n-i).xml
		rid := fmt.Sprintf("rId%d", 10+i)
		ids = append(ids, fmt.Sprintf(`<p:sldId id="%d" r:id="%s"/>`, 256+i, rid))
		presRels = append(presRels, rid, "slide", fmt.Sprintf("slides/slide%d.xml", num))
		parts = append(parts, fmt.Sprintf("ppt/slides/slide%d.xml", num), s)
		var rels []string
		rels = append(rels, "rId1", "slideLayout", "../slideLayouts/slideLayout1.xml")
		if text, ok := notes[i+1]; ok {
			rels = append(rels, "rId2", "notesSlide", fmt.Sprintf("../notesSlides/notesSlide%d.xml", i+1))
			parts = append(parts, fmt.Sprintf("ppt/notesSlides/notesSlide%d.xml", i+1), pptxNotesXML(text))
		}
		parts = append(parts, fmt.Sprintf("ppt/slides/_rels/slide%d.xml.rels", num), pptxRels(rels...))
	}
	pres := `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><p:presentation ` + pptxPNS + `><p:sldIdLst>` + strings.Join(ids, "") + `</p:sldIdLst></p:presentation>`
	all := []string{"[Content_Types].xml", `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`,
		"_rels/.rels", pptxRels("rId1", "officeDocument", "ppt/presentation.xml"),
		"ppt/presentation.xml", pres,
		"ppt/_rels/presentation.xml.rels", pptxRels(presRels...)}
	if core != "" {
		all = append(all, "docProps/core.xml", `<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>`+core+`</dc:title></cp:coreProperties>`)
	}
	return slidesZip(t, append(all, parts...)...)
}

func TestExtractPPTXSlides(t *testing.T) {
	t.Parallel()
	slides := []string{
		pptxSlideXML("", pptxShape("ctrTitle", "Quarterly review"), pptxShape("subTitle", "Sales team"), pptxShape("dt", "12/16/2016"), pptxShape("sldNum", "1")),
		pptxSlideXML("",
			pptxShape("", "A text box first in the tree"),
			pptxShape("title", "Results|by region"),
			pptxShape("body", "North grew", "South fell"),
			`<p:grpSp><p:nvGrpSpPr/><p:grpSpPr/>`+pptxShape("", "Grouped box")+`</p:grpSp>`,
			pptxTable([]string{"Region", "Q1", "Q2"}, []string{"North", "<merged>", "12"}, []string{"", "", ""}, []string{"South", "", ""}),
			pptxShape("ftr", "Company confidential")),
		pptxSlideXML(""), // a picture only: no text
		pptxSlideXML(` show="0"`, pptxShape("title", "Backup"), pptxShape("body", "Old numbers")),
		pptxSlideXML("", `<mc:AlternateContent xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"><mc:Choice Requires="p14">`+
			pptxShape("", "New shape")+`</mc:Choice><mc:Fallback>`+pptxShape("", "New shape")+`</mc:Fallback></mc:AlternateContent>`),
	}
	notes := map[int]string{2: "Say the north did well", 3: ""}

	want := "p1 Quarterly review\nQuarterly review\n\nSales team\n" +
		"p2 Results by region\nResults by region\n\nA text box first in the tree\n\nNorth grew\nSouth fell\n\nGrouped box\n\nRegion | Q1 | Q2\nNorth | 12\nSouth\n\nNotes: Say the north did well\n" +
		"p4 Backup\nBackup\n\nOld numbers\n" +
		"p5 Slide 5\nSlide 5\n\nNew shape\n"

	t.Run("OrderTitlesTablesNotes", func(t *testing.T) {
		t.Parallel()
		ext, err := Extract(context.Background(), TypePPTX, pptxDeck(t, "", slides, notes), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if got := slidesOutline(ext); got != want {
			t.Errorf("got\n%s\nwant\n%s", got, want)
		}
		if ext.Title != "Quarterly review" || ext.PageCount != 5 {
			t.Errorf("title %q, page count %d; want the first slide's title and 5", ext.Title, ext.PageCount)
		}
	})
	t.Run("CorePropertiesTitle", func(t *testing.T) {
		t.Parallel()
		ext, err := Extract(context.Background(), TypePPTX, pptxDeck(t, "Q3 2026 sales review", slides, notes), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if ext.Title != "Q3 2026 sales review" {
			t.Errorf("title %q, want the core properties' title", ext.Title)
		}
	})
	t.Run("PlaceholderCoreTitleGivesWay", func(t *testing.T) {
		t.Parallel()
		ext, err := Extract(context.Background(), TypePPTX, pptxDeck(t, "PowerPoint Presentation", slides, notes), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if ext.Title != "Quarterly review" {
			t.Errorf("title %q, want the first slide's title", ext.Title)
		}
	})
	t.Run("DetectedByContent", func(t *testing.T) {
		t.Parallel()
		data := pptxDeck(t, "", slides, notes)
		if typ, ok := Detect(bytes.NewReader(data), int64(len(data)), "deck.zip"); !ok || typ != TypePPTX {
			t.Errorf("Detect = %q, %v; want pptx", typ, ok)
		}
	})
	t.Run("NoSlidesIsNoText", func(t *testing.T) {
		t.Parallel()
		_, err := Extract(context.Background(), TypePPTX, pptxDeck(t, "Empty", nil, nil), Limits{})
		slidesWantCode(t, err, CodeNoText)
	})
	t.Run("OnlyPicturesIsNoText", func(t *testing.T) {
		t.Parallel()
		_, err := Extract(context.Background(), TypePPTX, pptxDeck(t, "Pictures", []string{pptxSlideXML(""), pptxSlideXML("", pptxShape("sldNum", "2"))}, nil), Limits{})
		slidesWantCode(t, err, CodeNoText)
	})
}

// TestExtractPPTXStrict reads a strict OOXML deck (ISO 29500 strict
// namespaces) whose relationships use absolute targets.
func TestExtractPPTXStrict(t *testing.T) {
	t.Parallel()
	ns := `xmlns:a="http://purl.oclc.org/ooxml/drawingml/main" xmlns:r="http://purl.oclc.org/ooxml/officeDocument/relationships" xmlns:p="http://purl.oclc.org/ooxml/presentationml/main"`
	slide := strings.Replace(pptxSlideXML("", pptxShape("title", "Strict title"), pptxShape("", "Strict body")), pptxPNS, ns, 1)
	rels := `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId7" Type="http://purl.oclc.org/ooxml/officeDocument/relationships/slide" Target="/ppt/slides/slide1.xml"/></Relationships>`
	data := slidesZip(t,
		"ppt/presentation.xml", `<p:presentation `+ns+`><p:sldIdLst><p:sldId id="256" r:id="rId7"/></p:sldIdLst></p:presentation>`,
		"ppt/_rels/presentation.xml.rels", "\ufeff"+rels,
		"ppt/slides/slide1.xml", slide)
	ext, err := Extract(context.Background(), TypePPTX, data, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := slidesOutline(ext), "p1 Strict title\nStrict title\n\nStrict body\n"; got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestExtractPPTXSmartArt(t *testing.T) {
	t.Parallel()
	frame := `<p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id="5" name="Diagram"/><p:cNvGraphicFramePr/><p:nvPr/></p:nvGraphicFramePr><a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/diagram"><dgm:relIds xmlns:dgm="http://schemas.openxmlformats.org/drawingml/2006/diagram" r:dm="rId5" r:lo="rId6"/></a:graphicData></a:graphic></p:graphicFrame>`
	data := `<dgm:dataModel xmlns:dgm="http://schemas.openxmlformats.org/drawingml/2006/diagram" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><dgm:ptLst>` +
		`<dgm:pt modelId="1" type="doc"><dgm:t><a:bodyPr/><a:p><a:endParaRPr/></a:p></dgm:t></dgm:pt>` +
		`<dgm:pt modelId="2"><dgm:t><a:bodyPr/><a:p><a:r><a:t>Plan</a:t></a:r></a:p></dgm:t></dgm:pt>` +
		`<dgm:pt modelId="3"><dgm:t><a:bodyPr/><a:p><a:r><a:t>Build</a:t></a:r></a:p></dgm:t></dgm:pt>` +
		`</dgm:ptLst></dgm:dataModel>`
	deck := slidesZip(t,
		"ppt/presentation.xml", `<p:presentation `+pptxPNS+`><p:sldIdLst><p:sldId id="256" r:id="rId2"/></p:sldIdLst></p:presentation>`,
		"ppt/_rels/presentation.xml.rels", pptxRels("rId2", "slide", "slides/slide1.xml"),
		"ppt/slides/slide1.xml", pptxSlideXML("", pptxShape("title", "Process"), frame, pptxShape("", "After")),
		"ppt/slides/_rels/slide1.xml.rels", pptxRels("rId5", "diagramData", "../diagrams/data1.xml"),
		"ppt/diagrams/data1.xml", data)
	ext, err := Extract(context.Background(), TypePPTX, deck, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := slidesOutline(ext), "p1 Process\nProcess\n\nPlan\nBuild\n\nAfter\n"; got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// ---- OpenDocument

const odpNS = `xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0" xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" xmlns:dc="http://purl.org/dc/elements/1.1/"`

// odpPages is the office:presentation of the test decks.
const odpPages = `<office:body><office:presentation>` +
	`<draw:page draw:name="page1"><draw:frame presentation:class="title"><draw:text-box><text:p>Launch <text:span>plan</text:span></text:p></draw:text-box></draw:frame>` +
	`<draw:frame presentation:class="outline"><draw:text-box><text:list><text:list-item><text:p>First<text:s text:c="3"/>step</text:p></text:list-item><text:list-item><text:p>Second<text:line-break/>step</text:p></text:list-item></text:list></draw:text-box></draw:frame>` +
	`<draw:frame presentation:class="footer"><draw:text-box><text:p>Footer text</text:p></draw:text-box></draw:frame>` +
	`<draw:custom-shape><office:annotation><text:p>A reviewer's comment</text:p></office:annotation><text:p>Shape text</text:p></draw:custom-shape>` +
	`<presentation:notes><draw:page-thumbnail presentation:class="page"/><draw:frame presentation:class="notes"><draw:text-box><text:p>Speak slowly</text:p><text:p>Then stop</text:p></draw:text-box></draw:frame></presentation:notes></draw:page>` +
	`<draw:page draw:name="Budget slide"><draw:g><draw:frame><table:table><table:table-row><table:table-cell><text:p>Item</text:p></table:table-cell><table:table-cell><text:p>Cost</text:p></table:table-cell></table:table-row>` +
	`<table:table-row table:number-rows-repeated="2"><table:table-cell table:number-columns-repeated="2"><text:p>x</text:p></table:table-cell><table:covered-table-cell><text:p>covered</text:p></table:covered-table-cell><table:table-cell table:number-columns-repeated="1000000"/></table:table-row>` +
	`<table:table-row table:number-rows-repeated="1000000000"><table:table-cell table:number-columns-repeated="1000000000"/></table:table-row></table:table></draw:frame></draw:g></draw:page>` +
	`<draw:page draw:name="page3"><draw:frame presentation:class="title"><draw:text-box/></draw:frame><draw:frame><draw:text-box><text:h>Untitled slide text</text:h></draw:text-box></draw:frame></draw:page>` +
	`<draw:page draw:name="page4"><draw:frame presentation:class="page-number"><draw:text-box><text:p>4</text:p></draw:text-box></draw:frame></draw:page>` +
	`</office:presentation></office:body>`

const odpWant = "p1 Launch plan\nLaunch plan\n\nFirst step\nSecond step\n\nShape text\n\nNotes: Speak slowly\nThen stop\n" +
	"p2 Budget slide\nBudget slide\n\nItem | Cost\nx | x\nx | x\n" +
	"p3 Slide 3\nSlide 3\n\nUntitled slide text\n"

func odpZip(t *testing.T, meta string, extra ...string) []byte {
	t.Helper()
	parts := []string{"mimetype", "application/vnd.oasis.opendocument.presentation",
		"content.xml", `<?xml version="1.0" encoding="UTF-8"?><office:document-content ` + odpNS + `>` + odpPages + `</office:document-content>`}
	if meta != "" {
		parts = append(parts, "meta.xml", `<office:document-meta `+odpNS+`><office:meta><dc:title>`+meta+`</dc:title></office:meta></office:document-meta>`)
	}
	return slidesZip(t, append(parts, extra...)...)
}

func TestExtractODPSlides(t *testing.T) {
	t.Parallel()
	t.Run("Zip", func(t *testing.T) {
		t.Parallel()
		data := odpZip(t, "")
		if typ, ok := Detect(bytes.NewReader(data), int64(len(data)), "deck.bin"); !ok || typ != TypeODP {
			t.Fatalf("Detect = %q, %v; want odp", typ, ok)
		}
		start := time.Now()
		ext, err := Extract(context.Background(), TypeODP, data, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if got := slidesOutline(ext); got != odpWant {
			t.Errorf("got\n%s\nwant\n%s", got, odpWant)
		}
		if ext.Title != "Launch plan" || ext.PageCount != 4 {
			t.Errorf("title %q, page count %d; want the first slide's title and 4", ext.Title, ext.PageCount)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("a billion repeated cells took %v", d)
		}
	})
	t.Run("MetaTitle", func(t *testing.T) {
		t.Parallel()
		ext, err := Extract(context.Background(), TypeODP, odpZip(t, "Launch plan for 2027"), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if ext.Title != "Launch plan for 2027" {
			t.Errorf("title %q, want meta.xml's", ext.Title)
		}
	})
	t.Run("Flat", func(t *testing.T) {
		t.Parallel()
		data := []byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<office:document ` + odpNS + ` office:mimetype="application/vnd.oasis.opendocument.presentation">` +
			`<office:meta><dc:title>Flat deck</dc:title></office:meta>` + odpPages + `</office:document>`)
		ext, err := Extract(context.Background(), TypeODP, data, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if got := slidesOutline(ext); got != odpWant {
			t.Errorf("got\n%s\nwant\n%s", got, odpWant)
		}
		if ext.Title != "Flat deck" {
			t.Errorf("title %q, want the flat file's dc:title", ext.Title)
		}
	})
	t.Run("Encrypted", func(t *testing.T) {
		t.Parallel()
		data := odpZip(t, "", "META-INF/manifest.xml", `<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"><manifest:file-entry manifest:full-path="content.xml"><manifest:encryption-data/></manifest:file-entry></manifest:manifest>`)
		_, err := Extract(context.Background(), TypeODP, data, Limits{})
		slidesWantCode(t, err, CodeEncrypted)
		if err != nil && !strings.Contains(err.Error(), "encrypted") {
			t.Errorf("error %v does not say the file is encrypted", err)
		}
	})
	t.Run("NotAPresentation", func(t *testing.T) {
		t.Parallel()
		_, err := Extract(context.Background(), TypeODP, []byte(`<office:document `+odpNS+`><office:body><office:text><text:p>x</text:p></office:text></office:body></office:document>`), Limits{})
		slidesWantCode(t, err, CodeUnsupportedType)
	})
}

// ---- hostile and broken input

func slidesWantCode(t *testing.T, err error, code string) {
	t.Helper()
	e, ok := AsError(err)
	if !ok {
		t.Fatalf("error %v, want code %s", err, code)
	}
	if e.Code != code {
		t.Errorf("code %s (%v), want %s", e.Code, err, code)
	}
}

func TestExtractSlidesHostile(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("<a:p>", 100000) + strings.Repeat("</a:p>", 100000)
	laughs := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>`
	xxe := `<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>`
	oneSlide := func(slide string) []byte {
		return slidesZip(t,
			"ppt/presentation.xml", `<p:presentation `+pptxPNS+`><p:sldIdLst><p:sldId id="256" r:id="rId2"/></p:sldIdLst></p:presentation>`,
			"ppt/_rels/presentation.xml.rels", pptxRels("rId2", "slide", "slides/slide1.xml"),
			"ppt/slides/slide1.xml", slide)
	}
	odpContent := func(body string) []byte {
		return slidesZip(t, "mimetype", "application/vnd.oasis.opendocument.presentation", "content.xml", body)
	}
	bomb := `<office:document-content ` + odpNS + `><office:body><office:presentation><draw:page><draw:frame><draw:text-box><text:p>` +
		strings.Repeat("spam ", 400_000) + `</text:p></draw:text-box></draw:frame></draw:page></office:presentation></office:body></office:document-content>`
	manySlides := func(n int) []byte {
		var ss []string
		for i := range n {
			ss = append(ss, pptxSlideXML("", pptxShape("", fmt.Sprint("slide ", i))))
		}
		return pptxDeck(t, "", ss, nil)
	}
	cases := []struct {
		name string
		typ  Type
		data []byte
		lim  Limits
		code string
	}{
		{"PPTXEmpty", TypePPTX, nil, Limits{}, CodeUnsupportedType},
		{"ODPEmpty", TypeODP, nil, Limits{}, CodeUnsupportedType},
		{"PPTXNotAZip", TypePPTX, []byte("PK\x03\x04 this is no zip at all"), Limits{}, CodeUnsupportedType},
		{"PPTXTruncated", TypePPTX, manySlides(3)[:300], Limits{}, CodeUnsupportedType},
		{"ODPTruncatedZip", TypeODP, odpZip(t, "")[:200], Limits{}, CodeUnsupportedType},
		{"PPTXNoPresentation", TypePPTX, slidesZip(t, "word/document.xml", "<x/>"), Limits{}, CodeUnsupportedType},
		{"ODPNoContent", TypeODP, slidesZip(t, "mimetype", "application/vnd.oasis.opendocument.presentation"), Limits{}, CodeUnsupportedType},
		{"PPTXDeepNesting", TypePPTX, oneSlide(pptxSlideXML("", `<p:sp><p:txBody>`+deep+`</p:txBody></p:sp>`)), Limits{}, CodeTooComplex},
		{"ODPDeepNesting", TypeODP, odpContent(`<office:document-content ` + odpNS + `><office:body><office:presentation><draw:page><draw:g>` + strings.Repeat("<draw:g>", 100000) + `</draw:g></draw:page></office:presentation></office:body></office:document-content>`), Limits{}, CodeTooComplex},
		{"PPTXEntityExpansion", TypePPTX, oneSlide(laughs + pptxSlideXML("", pptxShape("", "&lol2;"))), Limits{}, CodeUnsupportedType},
		{"PPTXExternalEntity", TypePPTX, oneSlide(xxe + pptxSlideXML("", pptxShape("", "&xxe;"))), Limits{}, CodeUnsupportedType},
		{"ODPEntityExpansion", TypeODP, odpContent(laughs + `<office:document-content ` + odpNS + `><office:body><office:presentation><draw:page><draw:frame><draw:text-box><text:p>&lol2;</text:p></draw:text-box></draw:frame></draw:page></office:presentation></office:body></office:document-content>`), Limits{}, CodeUnsupportedType},
		{"FlatODPExternalEntity", TypeODP, []byte(xxe + `<office:document ` + odpNS + `><office:body><office:presentation><draw:page><draw:frame><text:p>&xxe;</text:p></draw:frame></draw:page></office:presentation></office:body></office:document>`), Limits{}, CodeUnsupportedType},
		{"PPTXZipBomb", TypePPTX, oneSlide(pptxSlideXML("", pptxShape("", strings.Repeat("spam ", 400_000)))), Limits{MaxUnzippedBytes: 1 << 18}, CodeTooLarge},
		{"ODPZipBomb", TypeODP, odpContent(bomb), Limits{MaxUnzippedBytes: 1 << 18}, CodeTooLarge},
		{"ODPTooMuchText", TypeODP, odpContent(bomb), Limits{MaxTextBytes: 1 << 18}, CodeTooLarge},
		{"PPTXTooMuchText", TypePPTX, oneSlide(pptxSlideXML("", pptxShape("", strings.Repeat("spam ", 400_000)))), Limits{MaxTextBytes: 1 << 18}, CodeTooLarge},
		{"PPTXTooManySlides", TypePPTX, manySlides(30), Limits{MaxPages: 20}, CodeTooManyPages},
		{"PPTXBrokenSlideXML", TypePPTX, oneSlide(`<p:sld ` + pptxPNS + `><p:cSld><a:t>open`), Limits{}, CodeUnsupportedType},
		{"FlatODPBrokenXML", TypeODP, []byte(`<office:document ` + odpNS + `><office:body><office:presentation><draw:page>`), Limits{}, CodeUnsupportedType},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			_, err := Extract(context.Background(), c.typ, c.data, c.lim)
			slidesWantCode(t, err, c.code)
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// TestExtractPPTXRelationshipsStayInside: a relationship that climbs out
// of the package, or names a part it does not have, is no slide.
func TestExtractPPTXRelationshipsStayInside(t *testing.T) {
	t.Parallel()
	data := slidesZip(t,
		"ppt/presentation.xml", `<p:presentation `+pptxPNS+`><p:sldIdLst><p:sldId id="256" r:id="rId1"/><p:sldId id="257" r:id="rId2"/><p:sldId id="258" r:id="rId3"/><p:sldId id="259" r:id="rId2"/></p:sldIdLst></p:presentation>`,
		"ppt/_rels/presentation.xml.rels", pptxRels("rId1", "slide", "../../../../etc/passwd", "rId2", "slide", "slides/slide1.xml", "rId3", "slide", "slides/missing.xml"),
		"ppt/slides/slide1.xml", pptxSlideXML("", pptxShape("title", "Only slide")))
	ext, err := Extract(context.Background(), TypePPTX, data, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := slidesOutline(ext), "p1 Only slide\nOnly slide\n"; got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
