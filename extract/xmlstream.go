package extract

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
)

// maxOfficeXMLDepth bounds how deeply a part of an office document (Word,
// PowerPoint, Excel, OpenDocument) may nest elements. Their programs'
// own files stay far below it (a worksheet is five levels deep, a
// paragraph in a table in a group in a group about 20); libxml2 stops at
// 256 by default, and so do we. Without a bound the XML decoder's stack
// of open elements grows as deep as a file asks.
const maxOfficeXMLDepth = 256

// officeXML reads a part of an office document token by token under the
// limits every such part is read with: depth at most maxOfficeXMLDepth
// (too_complex), no DTD (encoding/xml expands no entity a DTD declares and
// fetches nothing, and an office suite writes none, so one is refused
// rather than reasoned about), the context checked every 4096 tokens.
// Damaged XML fails with unsupported_type, a budget overrun with the
// reader's own error (an *Error).
type officeXML struct {
	ctx   context.Context
	dec   *xml.Decoder
	what  string // "Excel workbook", for messages
	depth int    // of the element last started, or of the one whose end was returned
	pop   bool
	n     int
}

// newOfficeXML reads r; what names the document in messages.
func newOfficeXML(ctx context.Context, r io.Reader, what string) *officeXML {
	dec := xml.NewDecoder(r)
	dec.Strict = true
	return &officeXML{ctx: ctx, dec: dec, what: what}
}

// next returns the next token, and io.EOF after the last. For a start or
// end element, x.depth is that element's depth (the root is 1).
func (x *officeXML) next() (xml.Token, error) {
	if x.pop {
		x.depth--
		x.pop = false
	}
	if x.n++; x.n%4096 == 0 && x.ctx.Err() != nil {
		return nil, x.ctx.Err()
	}
	tok, err := x.dec.Token()
	if errors.Is(err, io.EOF) {
		if x.depth != 0 {
			return nil, fail(CodeUnsupportedType, "the %s is damaged (its XML is cut short)", x.what)
		}
		return nil, io.EOF
	}
	if err != nil {
		if _, ok := AsError(err); ok {
			return nil, err
		}
		return nil, &Error{Code: CodeUnsupportedType, Message: "the " + x.what + " is damaged (its XML does not parse)", Err: err}
	}
	switch t := tok.(type) {
	case xml.StartElement:
		if x.depth++; x.depth > maxOfficeXMLDepth {
			return nil, fail(CodeTooComplex, "the %s nests elements more than %d deep; that is not a normal document", x.what, maxOfficeXMLDepth)
		}
	case xml.EndElement:
		x.pop = true
	case xml.Directive:
		return nil, fail(CodeUnsupportedType, "the %s contains a DTD (%s)", x.what, truncateRunes(string(t), 40))
	}
	return tok, nil
}
