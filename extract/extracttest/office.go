package extracttest

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
)

// Hostile office files, books and mail: small files that ask much of a
// reader (the shapes of public test suites and parser bug reports), for
// the sandbox's hostile suite. The extract package's own tests build
// honest ones of each format with more structure.

// Zip is an archive of files given as name, content pairs; a part named
// "mimetype" is stored (OpenDocument and EPUB readers look for it
// uncompressed), the others deflated.
func Zip(files ...string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	addFiles(zw, files)
	zw.Close()
	return buf.Bytes()
}

// addFiles writes files (name, content pairs) to zw, as Zip does.
func addFiles(zw *zip.Writer, files []string) {
	for i := 0; i+1 < len(files); i += 2 {
		method := zip.Deflate
		if files[i] == "mimetype" {
			method = zip.Store
		}
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: files[i], Method: method})
		io.WriteString(w, files[i+1])
	}
}

// ZipBomb is an archive whose part named part inflates to size bytes (a
// multiple of 1 MiB) of one letter, after the files given as name,
// content pairs: about a kilobyte a gigabyte. The part's name is what
// makes the archive a PPTX (ppt/presentation.xml), an XLSX
// (xl/workbook.xml) or an EPUB's package document.
func ZipBomb(size int, part string, before ...string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	addFiles(zw, before)
	stream, crc, n := deflateRepeated([]repeated{{strings.Repeat("a", 1<<20), size >> 20}})
	w, _ := zw.CreateRaw(&zip.FileHeader{Name: part, Method: zip.Deflate, CRC32: crc,
		CompressedSize64: uint64(len(stream)), UncompressedSize64: n})
	w.Write(stream)
	zw.Close()
	return buf.Bytes()
}

const (
	pptxNS = `xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"`
	ooxRel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
	xlsxNS = `xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"`
	odfNS  = `xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0"`
)

func rels(targets ...string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`)
	for i := 0; i+1 < len(targets); i += 2 {
		fmt.Fprintf(&b, `<Relationship Id="rId%d" Type="%s%s" Target="%s"/>`, i/2+1, ooxRel, targets[i], targets[i+1])
	}
	b.WriteString(`</Relationships>`)
	return b.String()
}

// PPTXShape is a text box of one paragraph per line.
func PPTXShape(lines ...string) string {
	var b strings.Builder
	b.WriteString(`<p:sp><p:nvSpPr><p:cNvPr id="2" name=""/><p:cNvSpPr/><p:nvPr/></p:nvSpPr><p:txBody>`)
	for _, l := range lines {
		b.WriteString(`<a:p><a:r><a:t>` + l + `</a:t></a:r></a:p>`)
	}
	b.WriteString(`</p:txBody></p:sp>`)
	return b.String()
}

// PPTX is a deck of one slide per spTree content (shapes, as PPTXShape
// makes).
func PPTX(slides ...string) []byte {
	var ids strings.Builder
	var presRels []string
	files := []string{"[Content_Types].xml", `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`,
		"_rels/.rels", rels("officeDocument", "ppt/presentation.xml")}
	for i, s := range slides {
		fmt.Fprintf(&ids, `<p:sldId id="%d" r:id="rId%d"/>`, 256+i, i+1)
		presRels = append(presRels, "slide", fmt.Sprintf("slides/slide%d.xml", i+1))
		files = append(files, fmt.Sprintf("ppt/slides/slide%d.xml", i+1),
			`<?xml version="1.0" encoding="UTF-8"?><p:sld `+pptxNS+`><p:cSld><p:spTree>`+s+`</p:spTree></p:cSld></p:sld>`)
	}
	files = append(files, "ppt/presentation.xml", `<?xml version="1.0" encoding="UTF-8"?><p:presentation `+pptxNS+`><p:sldIdLst>`+ids.String()+`</p:sldIdLst></p:presentation>`,
		"ppt/_rels/presentation.xml.rels", rels(presRels...))
	return Zip(files...)
}

// XLSX is a workbook of one sheet named S, whose <worksheet> holds body,
// after prolog (a DOCTYPE, say) if not "".
func XLSX(prolog, body string) []byte {
	return Zip("[Content_Types].xml", `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`,
		"_rels/.rels", rels("officeDocument", "xl/workbook.xml"),
		"xl/workbook.xml", `<?xml version="1.0"?><workbook `+xlsxNS+`><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>`,
		"xl/_rels/workbook.xml.rels", rels("worksheet", "worksheets/sheet1.xml"),
		"xl/worksheets/sheet1.xml", `<?xml version="1.0"?>`+prolog+`<worksheet `+xlsxNS+`>`+body+`</worksheet>`)
}

// XLSXRows is a sheet of a header row and n rows of three cells each,
// written as inline strings: n of 10^6 is the sheet the issue tracker of
// every spreadsheet reader has (and deflates to a few megabytes).
func XLSXRows(n int) []byte {
	var b strings.Builder
	b.WriteString(`<sheetData><row r="1"><c t="inlineStr"><is><t>Part</t></is></c><c t="inlineStr"><is><t>Bin</t></is></c><c t="inlineStr"><is><t>Count</t></is></c></row>`)
	for i := range n {
		fmt.Fprintf(&b, `<row r="%d"><c t="inlineStr"><is><t>bolt %d</t></is></c><c t="inlineStr"><is><t>B%d</t></is></c><c><v>%d</v></c></row>`, i+2, i, i%97, i%1000)
	}
	b.WriteString(`</sheetData>`)
	return XLSX("", b.String())
}

// ODS is an OpenDocument spreadsheet whose office:body holds body (an
// <office:spreadsheet>).
func ODS(body string) []byte {
	return Zip("mimetype", "application/vnd.oasis.opendocument.spreadsheet",
		"content.xml", `<?xml version="1.0" encoding="UTF-8"?><office:document-content `+odfNS+`><office:body>`+body+`</office:body></office:document-content>`)
}

// ODT is an OpenDocument text whose office:text holds body.
func ODT(body string) []byte {
	return Zip("mimetype", "application/vnd.oasis.opendocument.text",
		"content.xml", `<?xml version="1.0" encoding="UTF-8"?><office:document-content `+odfNS+`><office:body><office:text>`+body+`</office:text></office:body></office:document-content>`)
}

// EPUBContainer is an EPUB's META-INF/container.xml naming
// OEBPS/content.opf.
const EPUBContainer = `<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>`

// EPUB is a book whose spine lists chapter c.xhtml spine[i] times for
// each chapter body given: a spine of 10^5 entries naming one chapter is
// a book a reader must not read 10^5 times.
func EPUB(chapters []string, spine []int) []byte {
	var manifest, itemrefs strings.Builder
	files := []string{"mimetype", "application/epub+zip", "META-INF/container.xml", EPUBContainer}
	for i, body := range chapters {
		fmt.Fprintf(&manifest, `<item id="c%d" href="c%d.xhtml" media-type="application/xhtml+xml"/>`, i, i)
		for range spine[i] {
			fmt.Fprintf(&itemrefs, `<itemref idref="c%d"/>`, i)
		}
		files = append(files, fmt.Sprintf("OEBPS/c%d.xhtml", i),
			`<?xml version="1.0" encoding="UTF-8"?><html xmlns="http://www.w3.org/1999/xhtml"><head><title>Book</title></head><body>`+body+`</body></html>`)
	}
	opf := `<?xml version="1.0" encoding="UTF-8"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Book</dc:title></metadata><manifest>` +
		manifest.String() + `</manifest><spine>` + itemrefs.String() + `</spine></package>`
	return Zip(append(files, "OEBPS/content.opf", opf)...)
}

// NestedEML is a message whose multiparts nest depth deep, the text at
// the bottom.
func NestedEML(depth int, text string) []byte {
	var b strings.Builder
	b.WriteString("From: a@example.com\r\nTo: b@example.com\r\nSubject: Nested\r\nMIME-Version: 1.0\r\n")
	for i := range depth {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n", i, i)
	}
	b.WriteString("Content-Type: text/plain\r\n\r\n" + text + "\r\n")
	for i := depth - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\r\n", i)
	}
	return []byte(b.String())
}

// AttachmentsEML is a message of a short text and n text attachments,
// each naming its number.
func AttachmentsEML(n int) []byte {
	var b strings.Builder
	b.WriteString("From: a@example.com\r\nTo: b@example.com\r\nSubject: Many attachments\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"x\"\r\n\r\n")
	b.WriteString("--x\r\nContent-Type: text/plain\r\n\r\nThe body of a message with many attachments.\r\n")
	for i := range n {
		fmt.Fprintf(&b, "--x\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"a%d.txt\"\r\n\r\nAttachment number %d.\r\n", i, i)
	}
	b.WriteString("--x--\r\n")
	return []byte(b.String())
}

// CompoundFile is a minimal compound file (OLE2) of 512-byte sectors
// whose directory (sector 0) holds entries of the given names, its FAT in
// sector 1: what an encrypted .xlsx (Root Entry, EncryptionInfo,
// EncryptedPackage) or a legacy .xls (Root Entry, Workbook) looks like to
// a reader of its directory.
func CompoundFile(names ...string) []byte {
	f := make([]byte, 512*3)
	copy(f, []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1})
	binary.LittleEndian.PutUint16(f[0x1A:], 3)      // major version
	binary.LittleEndian.PutUint16(f[0x1C:], 0xFFFE) // byte order
	binary.LittleEndian.PutUint16(f[0x1E:], 9)      // 512-byte sectors
	binary.LittleEndian.PutUint32(f[0x2C:], 1)      // FAT sectors
	binary.LittleEndian.PutUint32(f[0x30:], 0)      // first directory sector
	binary.LittleEndian.PutUint32(f[0x4C:], 1)      // DIFAT[0]: the FAT is sector 1
	for i := 1; i < 109; i++ {
		binary.LittleEndian.PutUint32(f[0x4C+4*i:], 0xFFFFFFFF)
	}
	dir := f[512:1024]
	for i, name := range names {
		e := dir[i*128:]
		u := utf16.Encode([]rune(name))
		for j, c := range u {
			binary.LittleEndian.PutUint16(e[2*j:], c)
		}
		binary.LittleEndian.PutUint16(e[64:], uint16(2*len(u)+2))
	}
	fat := f[1024:]
	binary.LittleEndian.PutUint32(fat[0:], 0xFFFFFFFE) // sector 0: end of the directory's chain
	binary.LittleEndian.PutUint32(fat[4:], 0xFFFFFFFD) // sector 1: a FAT sector
	return f
}
