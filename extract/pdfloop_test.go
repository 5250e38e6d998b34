package extract

import (
	"strings"
	"testing"
	"time"

	"github.com/ragd/ragd/extract/extracttest"
)

// TestPDFLoopsFailAtOnce: a PDF whose page tree or cross-reference
// sections loop fails pdf_malformed at once, with advice that fits a
// damaged file, instead of running until the extraction's clock ends it
// (the library would follow the loop forever).
func TestPDFLoopsFailAtOnce(t *testing.T) {
	t.Parallel()
	cases := map[string][]byte{
		"KidsSelfLoop":           extracttest.KidsLoopPDF(),
		"KidsHoldTreeAndPage":    extracttest.SelfPagesPDF(),
		"MutualKidsLoop":         extracttest.MutualKidsPDF(),
		"TrailerPrevToItsXref":   extracttest.PrevLoopPDF(),
		"TrailerPrevMutual":      extracttest.PrevMutualLoopPDF(),
		"XRefStreamPrevToItself": extracttest.XRefStmLoopPDF(),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			_, err := Extract(t.Context(), TypePDF, data, Limits{Timeout: 20 * time.Second})
			took := time.Since(start)
			wantCode(t, err, CodePDFMalformed)
			e, _ := AsError(err)
			if e != nil && (!strings.Contains(e.Message, "save or print it to PDF again") || strings.Contains(e.Message, "split")) {
				t.Errorf("message %q does not give a damaged file's advice", e.Message)
			}
			if took > time.Second {
				t.Errorf("took %s; a loop must be found at once", took)
			}
		})
	}
}

// TestXrefLoopLeavesChainsAlone: a chain of updates without a loop, and a
// /Prev that points nowhere, are not loops.
func TestXrefLoopLeavesChainsAlone(t *testing.T) {
	t.Parallel()
	if xrefLoop(extracttest.ReportPDF()) {
		t.Error("a one-section file is a loop")
	}
	mutual := extracttest.PrevMutualLoopPDF()
	if !xrefLoop(mutual) {
		t.Error("the mutual /Prev loop is not found")
	}
	// The original trailer's /Prev made dangling: a chain of two that ends.
	i := strings.Index(string(mutual), "/Prev 0")
	broken := []byte(string(mutual[:i]) + "/Prev 9999999999" + string(mutual[i+len("/Prev 0000000000"):]))
	if xrefLoop(broken) {
		t.Error("a chain ending in a dangling /Prev is a loop")
	}
}
