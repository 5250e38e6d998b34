package extract

import (
	"strings"
	"testing"
)

func odtContent(body string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" ` +
		`xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" ` +
		`xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" ` +
		`xmlns:dc="http://purl.org/dc/elements/1.1/"><office:automatic-styles><style:style style:name="Hid" style:family="text">` +
		`<style:text-properties text:display="none"/></style:style></office:automatic-styles><office:body><office:text>` + body +
		`</office:text></office:body></office:document-content>`
}

func makeODT(t *testing.T, content, meta string) []byte {
	t.Helper()
	files := []string{"mimetype", "application/vnd.oasis.opendocument.text", "content.xml", content}
	if meta != "" {
		files = append(files, "meta.xml", `<?xml version="1.0"?><office:document-meta xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><office:meta><dc:title>`+meta+`</dc:title></office:meta></office:document-meta>`)
	}
	return zipOf(t, files...)
}

func TestExtractODT(t *testing.T) {
	t.Parallel()
	body := `<text:h text:outline-level="1">Report</text:h><text:p>Intro<text:s text:c="3"/>text<text:tab/>tabbed<text:line-break/>next.</text:p>` +
		`<text:h text:outline-level="2">Details</text:h><text:p>See<text:note text:note-class="footnote"><text:note-citation>1</text:note-citation>` +
		`<text:note-body><text:p>The note.</text:p></text:note-body></text:note> here. <text:span text:style-name="Hid">Hidden.</text:span></text:p>` +
		`<text:list><text:list-item><text:p>One</text:p><text:list><text:list-item><text:p>One.a</text:p></text:list-item></text:list></text:list-item>` +
		`<text:list-item><text:p>Two</text:p></text:list-item></text:list>` +
		`<table:table><table:table-row><table:table-cell><text:p>A</text:p></table:table-cell><table:table-cell table:number-columns-spanned="2"><text:p>B</text:p><text:p>b2</text:p></table:table-cell><table:covered-table-cell><text:p>x</text:p></table:covered-table-cell></table:table-row>` +
		`<table:table-row><table:table-cell/><table:table-cell table:number-columns-repeated="1000"/></table:table-row>` +
		`<table:table-row><table:table-cell><text:p>C</text:p></table:table-cell><table:table-cell><text:p>D</text:p></table:table-cell></table:table-row></table:table>` +
		`<text:tracked-changes><text:changed-region><text:deletion><text:p>Deleted.</text:p></text:deletion></text:changed-region></text:tracked-changes>` +
		`<text:p>End<office:annotation><dc:creator>x</dc:creator><text:p>Comment.</text:p></office:annotation>.</text:p>`
	want := blocks("Report", "Intro text tabbed next.", "Details", "See here.", "The note.", "- One\n- One.a\n- Two", "A | B b2\nC | D", "End.")
	for name, data := range map[string][]byte{
		"Packed": makeODT(t, odtContent(body), "The Title"),
		"Flat": []byte(strings.Replace(strings.Replace(odtContent(body), "office:document-content", "office:document", 2),
			"<office:automatic-styles>", `<office:meta><dc:title>The Title</dc:title></office:meta><office:automatic-styles>`, 1)),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ext := mustExtract(t, TypeODT, data)
			if ext.Text != want {
				t.Fatalf("text = %q, want %q", ext.Text, want)
			}
			if ext.Title != "The Title" {
				t.Errorf("title = %q", ext.Title)
			}
			got := sectionTexts(ext)
			if got["Report > Details"] != blocks("Details", "See here.", "The note.", "- One\n- One.a\n- Two", "A | B b2\nC | D", "End.") {
				t.Errorf("sections = %q", got)
			}
		})
	}
	t.Run("TitleFromHeading", func(t *testing.T) {
		t.Parallel()
		if ext := mustExtract(t, TypeODT, makeODT(t, odtContent(body), "")); ext.Title != "Report" {
			t.Errorf("title = %q", ext.Title)
		}
	})
}

func TestExtractODTHostile(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		data []byte
		code string
		lim  Limits
		text string
	}{
		"ExternalEntity": {data: makeODT(t, `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>`+odtContent(`<text:p>&e;</text:p>`)[len(`<?xml version="1.0" encoding="UTF-8"?>`):], ""), code: CodeUnsupportedType},
		"BillionLaughs":  {data: makeODT(t, `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>`+odtContent(`<text:p>&b;</text:p>`)[len(`<?xml version="1.0" encoding="UTF-8"?>`):], ""), code: CodeUnsupportedType},
		"ZipBomb":        {data: makeODT(t, odtContent(`<text:p>`+strings.Repeat("a ", 5<<20)+`</text:p>`), ""), code: CodeTooLarge, lim: Limits{MaxUnzippedBytes: 1 << 20}},
		"DeepNesting":    {data: makeODT(t, odtContent(strings.Repeat("<text:span>", 100_000)), ""), code: CodeTooComplex},
		"HugeRepeats": {data: makeODT(t, odtContent(`<text:p>a<text:s text:c="1000000000"/>b</text:p><table:table><table:table-row table:number-rows-repeated="1000000000"><table:table-cell table:number-columns-repeated="1000000000"><text:p>x</text:p></table:table-cell></table:table-row></table:table>`), ""),
			text: "a b\n\n" + strings.TrimSuffix(strings.Repeat(strings.TrimSuffix(strings.Repeat("x | ", maxODTRepeat), " | ")+"\n", maxODTRepeat), "\n")},
		"Encrypted":  {data: zipOf(t, "mimetype", "application/vnd.oasis.opendocument.text", "META-INF/manifest.xml", `<manifest:manifest><manifest:file-entry manifest:full-path="content.xml"><manifest:encryption-data/></manifest:file-entry></manifest:manifest>`, "content.xml", "\x00\x01garbage"), code: CodeEncrypted},
		"NotAZip":    {data: []byte("PK\x03\x04 broken"), code: CodeUnsupportedType},
		"NotXML":     {data: []byte("just some text"), code: CodeUnsupportedType},
		"NoContent":  {data: zipOf(t, "mimetype", "application/vnd.oasis.opendocument.text"), code: CodeUnsupportedType},
		"DamagedXML": {data: makeODT(t, odtContent(`<text:p>unclosed`)[:200], ""), code: CodeUnsupportedType},
		"Empty":      {data: makeODT(t, odtContent(`<text:p> </text:p>`), ""), code: CodeNoText},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ext, err := Extract(t.Context(), TypeODT, tc.data, tc.lim)
			if tc.code != "" {
				if e, ok := AsError(err); !ok || e.Code != tc.code {
					t.Fatalf("err = %v, want %s", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ext.Text != tc.text {
				t.Errorf("text = %q, want %q", truncateRunes(ext.Text, 300), truncateRunes(tc.text, 300))
			}
		})
	}
}
