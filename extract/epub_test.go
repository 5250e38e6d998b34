package extract

import (
	"archive/zip"
	"bytes"
	"strings"
	"testing"
)

// makeZip builds a zip of name, content pairs, in order (the first stored).
func zipOf(t *testing.T, files ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i+1 < len(files); i += 2 {
		method := zip.Deflate
		if i == 0 {
			method = zip.Store
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: files[i], Method: method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(files[i+1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const epubContainer = `<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>`

func epubOPF(metadata, manifest, spine string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">` + metadata + `</metadata>
<manifest>` + manifest + `</manifest><spine toc="ncx">` + spine + `</spine></package>`
}

func epubXHTML(title, body string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE html><html xmlns="http://www.w3.org/1999/xhtml"><head><title>` +
		title + `</title></head><body>` + body + `</body></html>`
}

func makeEPUB(t *testing.T, opf string, files ...string) []byte {
	t.Helper()
	return zipOf(t, append([]string{"mimetype", "application/epub+zip", "META-INF/container.xml", epubContainer, "OEBPS/content.opf", opf}, files...)...)
}

func TestExtractEPUB(t *testing.T) {
	t.Parallel()
	manifest := `<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>
<item id="c1" href="text/ch%201.xhtml" media-type="application/xhtml+xml"/>
<item id="c2" href="text/ch2.xhtml" media-type="application/xhtml+xml"/>
<item id="c3" href="text/ch3.xhtml" media-type="application/xhtml+xml"/>
<item id="img" href="cover.png" media-type="image/png"/>`
	spine := `<itemref idref="img"/><itemref idref="c2"/><itemref idref="c1"/><itemref idref="c3"/><itemref idref="missing"/>`
	chapters := []string{
		"OEBPS/text/ch 1.xhtml", epubXHTML("Book", `<h1>The Start</h1><p>First words.</p><h2>A part</h2><p>Part words.</p>`),
		"OEBPS/text/ch2.xhtml", epubXHTML("Book", `<p>Foreword words.</p>`),
		"OEBPS/text/ch3.xhtml", epubXHTML("Book", `<h2>Untitled in nav</h2><p>Last words.</p>`),
	}
	t.Run("EPUB3Nav", func(t *testing.T) {
		t.Parallel()
		nav := epubXHTML("Nav", `<nav epub:type="landmarks"><ol><li><a href="text/ch2.xhtml">Landmark</a></li></ol></nav>
<nav epub:type="toc"><ol><li><a href="text/ch%201.xhtml">Chapter One</a><ol><li><a href="text/ch%201.xhtml#p">Part</a></li></ol></li>
<li><a href="text/ch2.xhtml">Foreword</a></li></ol></nav>`)
		data := makeEPUB(t, epubOPF(`<dc:title>My  Book</dc:title><dc:title>Subtitle</dc:title>`, manifest, spine),
			append([]string{"OEBPS/nav.xhtml", nav}, chapters...)...)
		ext := mustExtract(t, TypeEPUB, data)
		want := blocks("Foreword", "Foreword words.", "Chapter One", "The Start", "First words.", "A part", "Part words.", "Untitled in nav", "Last words.")
		if ext.Text != want {
			t.Fatalf("text = %q, want %q", ext.Text, want)
		}
		if ext.Title != "My Book" {
			t.Errorf("title = %q", ext.Title)
		}
		got := sectionTexts(ext)
		wantSections := map[string]string{
			"Foreword":                         "Foreword\n\nForeword words.\n\n",
			"Chapter One":                      "Chapter One\n\n",
			"Chapter One > The Start":          "The Start\n\nFirst words.\n\n",
			"Chapter One > The Start > A part": "A part\n\nPart words.\n\n",
			"Untitled in nav":                  "Untitled in nav\n\nLast words.",
		}
		for k, v := range wantSections {
			if got[k] != v {
				t.Errorf("section %q = %q, want %q (all %q)", k, got[k], v, got)
			}
		}
	})
	t.Run("EPUB2NCX", func(t *testing.T) {
		t.Parallel()
		ncx := `<?xml version="1.0"?><ncx xmlns="http://www.daisy.org/z3986/2005/ncx/"><docTitle><text>Doc</text></docTitle><navMap>
<navPoint id="a"><navLabel><text>First chapter</text></navLabel><content src="text/ch%201.xhtml"/>
<navPoint id="b"><navLabel><text>Inner</text></navLabel><content src="text/ch%201.xhtml#x"/></navPoint></navPoint>
</navMap></ncx>`
		m := strings.Replace(manifest, `<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>`,
			`<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>`, 1)
		data := makeEPUB(t, epubOPF(`<dc:title>Old Book</dc:title>`, m, `<itemref idref="c1"/>`),
			append([]string{"OEBPS/toc.ncx", ncx}, chapters...)...)
		ext := mustExtract(t, TypeEPUB, data)
		if want := blocks("First chapter", "The Start", "First words.", "A part", "Part words."); ext.Text != want {
			t.Fatalf("text = %q, want %q", ext.Text, want)
		}
		if len(ext.Sections) == 0 || ext.Sections[0].HeadingPath[0] != "First chapter" {
			t.Errorf("sections = %+v", ext.Sections)
		}
	})
	t.Run("NoContainer", func(t *testing.T) {
		t.Parallel()
		data := zipOf(t, append([]string{"mimetype", "application/epub+zip", "OEBPS/content.opf",
			epubOPF(`<dc:title>B</dc:title>`, manifest, `<itemref idref="c2"/>`)}, chapters...)...)
		if ext := mustExtract(t, TypeEPUB, data); ext.Text != "Foreword words." {
			t.Errorf("text = %q", ext.Text)
		}
	})
}

func TestExtractEPUBHostile(t *testing.T) {
	t.Parallel()
	chapter := epubXHTML("C", `<p>Inside.</p>`)
	cases := map[string]struct {
		data []byte
		code string // "" for text
		text string
		lim  Limits
	}{
		"PathOutOfContainer": {
			data: makeEPUB(t, epubOPF(`<dc:title>B</dc:title>`,
				`<item id="a" href="../../secret.xhtml" media-type="application/xhtml+xml"/><item id="b" href="/OEBPS/../../x.xhtml" media-type="application/xhtml+xml"/><item id="c" href="c.xhtml" media-type="application/xhtml+xml"/>`,
				`<itemref idref="a"/><itemref idref="b"/><itemref idref="c"/>`),
				"secret.xhtml", epubXHTML("S", "<p>Secret.</p>"), "../secret.xhtml", epubXHTML("S", "<p>Secret.</p>"), "OEBPS/c.xhtml", chapter),
			text: "Inside.",
		},
		"ExternalEntity": {
			data: makeEPUB(t, `<?xml version="1.0"?><!DOCTYPE package [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>`+
				epubOPF(`<dc:title>&xxe;</dc:title>`, `<item id="c" href="c.xhtml" media-type="application/xhtml+xml"/>`, `<itemref idref="c"/>`)[len(`<?xml version="1.0" encoding="UTF-8"?>`):],
				"OEBPS/c.xhtml", `<?xml version="1.0"?><!DOCTYPE html [<!ENTITY xxe SYSTEM "secret.xhtml">]><html><body><p>Before &xxe; after.</p></body></html>`,
				"OEBPS/secret.xhtml", "<p>Secret.</p>"),
			text: "Before &xxe; after.",
		},
		"BillionLaughs": {
			data: makeEPUB(t, `<?xml version="1.0"?><!DOCTYPE package [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>`+
				epubOPF(`<dc:title>&c;</dc:title>`, `<item id="c" href="c.xhtml" media-type="application/xhtml+xml"/>`, `<itemref idref="c"/>`)[len(`<?xml version="1.0" encoding="UTF-8"?>`):],
				"OEBPS/c.xhtml", chapter),
			text: "Inside.",
		},
		"ZipBomb": {
			data: makeEPUB(t, epubOPF(`<dc:title>B</dc:title>`, `<item id="c" href="c.xhtml" media-type="application/xhtml+xml"/>`, `<itemref idref="c"/>`),
				"OEBPS/c.xhtml", epubXHTML("C", "<p>"+strings.Repeat(" ", 20<<20)+"</p>")),
			code: CodeTooLarge,
			lim:  Limits{MaxUnzippedBytes: 1 << 20},
		},
		"DeepOPF": {
			data: makeEPUB(t, epubOPF(strings.Repeat("<x>", 100_000), "", "")),
			code: CodeTooLarge,
		},
		"NotAZip":   {data: []byte("PK\x03\x04 not really"), code: CodeUnsupportedType},
		"NoPackage": {data: zipOf(t, "mimetype", "application/epub+zip", "OEBPS/c.xhtml", chapter), code: CodeUnsupportedType},
		"NoChapters": {
			data: makeEPUB(t, epubOPF(`<dc:title>B</dc:title>`, `<item id="c" href="c.xhtml" media-type="application/xhtml+xml"/>`, `<itemref idref="c"/>`)),
			code: CodeNoText,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ext, err := Extract(t.Context(), TypeEPUB, tc.data, tc.lim)
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
				t.Errorf("text = %q, want %q", ext.Text, tc.text)
			}
		})
	}
}
