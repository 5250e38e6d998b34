package extract

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// OCR runs the tesseract command line rather than a cgo binding
// (gosseract): ragd builds without cgo, and a program started by the
// extraction child inherits the child's memory and CPU limits (RLIMIT_DATA,
// RLIMIT_CPU) and its process group, which is what the sandbox kills when
// a document's clock or CPU time runs out (sandbox.Pool). A leptonica or
// tesseract that a hostile image sends into a loop or a huge allocation
// then costs that document, as a Go parser would. Images and rendered
// pages reach tesseract on its stdin: nothing is written to disk, so a
// child killed mid-page leaves no file behind.

// MinOCRConfidence is the mean word confidence (tesseract's 0-100) below
// which a recognised page is taken for noise (a photograph, a blank page's
// speckles, the wrong language) and dropped: a document whose every
// recognised page is dropped fails with ocr_low_confidence rather than
// indexing noise that would then match searches.
const MinOCRConfidence = 40

// DefaultOCRLanguages are tesseract's languages when Limits.OCRLanguages
// is empty.
const DefaultOCRLanguages = "eng"

// OCRDPI is the resolution PDF pages without a text layer are rendered at
// for recognition (tesseract reads best at 300 dpi).
const OCRDPI = 300

// OCRTools are the programs OCR needs, found on PATH by FindOCRTools; an
// empty path means the tool is absent.
type OCRTools struct {
	Tesseract string // recognises text in images
	Pdftoppm  string // renders PDF pages (poppler)
}

// FindOCRTools looks tesseract and pdftoppm up on PATH. The server calls
// it (the extraction child has no PATH) and passes the paths in Limits.
func FindOCRTools() OCRTools {
	var t OCRTools
	t.Tesseract, _ = exec.LookPath("tesseract")
	t.Pdftoppm, _ = exec.LookPath("pdftoppm")
	return t
}

// ValidOCRLanguages reports whether s is a list of tesseract languages
// ("eng", "eng+deu", "chi_sim"): letters, digits and '_' joined by '+'.
// Nothing else reaches tesseract's command line.
func ValidOCRLanguages(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for _, lang := range strings.Split(s, "+") {
		if lang == "" {
			return false
		}
		for _, r := range lang {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
				return false
			}
		}
	}
	return true
}

// ocrWord is one word tesseract recognised, with where it stands.
type ocrWord struct {
	page, block, par, line int
	top, height            int // pixels
	conf                   float64
	text                   string
}

// ocrPage is what tesseract recognised on one page.
type ocrPage struct {
	paragraphs [][]string // each paragraph's lines
	words      int
	confSum    float64
	// lines are the page's lines in reading order with their words'
	// heights, from which ocrTitle finds the largest type; height is the
	// page's, in pixels (0 when tesseract did not say).
	lines  []ocrLine
	height int
}

// ocrLine is a recognised line and its words' heights in pixels.
type ocrLine struct {
	text    string
	top     int // of its first word, pixels from the page's top
	heights []int
}

// height is the median of the line's word heights: a line's type size,
// which a word with descenders or a capital alone does not skew.
func (l ocrLine) height() int {
	h := slices.Clone(l.heights)
	slices.Sort(h)
	return h[len(h)/2]
}

// meanConfidence is the page's mean word confidence, 0-100.
func (p ocrPage) meanConfidence() float64 {
	if p.words == 0 {
		return 0
	}
	return p.confSum / float64(p.words)
}

// parseTSV reads tesseract's TSV output into pages (by page_num, from 1),
// paragraphs (block and par numbers) and lines, with each page's word
// count and confidence sum. Rows other than words (level 5) are skipped,
// as are words with no text or no confidence (-1).
func parseTSV(r io.Reader) (map[int]*ocrPage, int, error) {
	pages := map[int]*ocrPage{}
	maxPage := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var prev ocrWord
	first := true
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) >= 10 && f[0] == "1" { // the page: its size
			if n, err := strconv.Atoi(f[1]); err == nil && n >= 1 {
				if pages[n] == nil {
					pages[n] = &ocrPage{}
				}
				pages[n].height, _ = strconv.Atoi(f[9])
			}
			continue
		}
		if len(f) < 12 || f[0] != "5" {
			continue
		}
		var w ocrWord
		var err error
		nums := []*int{&w.page, &w.block, &w.par, &w.line}
		for i, p := range nums {
			if *p, err = strconv.Atoi(f[1+i]); err != nil {
				return nil, 0, fmt.Errorf("tesseract tsv: %q: %w", sc.Text(), err)
			}
		}
		if w.conf, err = strconv.ParseFloat(f[10], 64); err != nil {
			return nil, 0, fmt.Errorf("tesseract tsv: %q: %w", sc.Text(), err)
		}
		w.top, _ = strconv.Atoi(f[7]) // only titles use where words are
		w.height, _ = strconv.Atoi(f[9])
		w.text = strings.TrimSpace(strings.Join(f[11:], " "))
		if w.text == "" || w.conf < 0 || w.page < 1 {
			continue
		}
		p := pages[w.page]
		if p == nil {
			p = &ocrPage{}
			pages[w.page] = p
		}
		maxPage = max(maxPage, w.page)
		newLine := true
		switch {
		case first || w.page != prev.page || w.block != prev.block || w.par != prev.par:
			p.paragraphs = append(p.paragraphs, []string{w.text})
		case w.line != prev.line:
			para := p.paragraphs[len(p.paragraphs)-1]
			p.paragraphs[len(p.paragraphs)-1] = append(para, w.text)
		default:
			para := p.paragraphs[len(p.paragraphs)-1]
			para[len(para)-1] += " " + w.text
			newLine = false
		}
		if newLine {
			p.lines = append(p.lines, ocrLine{text: w.text, top: w.top, heights: []int{w.height}})
		} else {
			l := &p.lines[len(p.lines)-1]
			l.text += " " + w.text
			l.heights = append(l.heights, w.height)
		}
		p.words++
		p.confSum += w.conf
		prev, first = w, false
	}
	if err := sc.Err(); err != nil {
		return nil, 0, fmt.Errorf("tesseract tsv: %w", err)
	}
	return pages, maxPage, nil
}

// ocrTitle is a recognised page's title, as largeFontLine finds a PDF
// page's, with a scan's uncertainties in mind: the first run (up to three
// lines) of its tallest type in the top two fifths of the page, when that
// type is at least 1.3 times the page's usual type (the median word's; word
// boxes vary with ascenders and descenders, so a short line of tall
// letters measures taller than its type), among lines of four letters or
// more (not a page number, a stamp or a drop capital). "" when no line
// stands out so.
func ocrTitle(p *ocrPage) string {
	if p == nil || len(p.lines) == 0 {
		return ""
	}
	heights := make([]int, len(p.lines))
	var words []int
	for i, l := range p.lines {
		heights[i] = l.height()
		words = append(words, l.heights...)
	}
	// The usual type is the median word's, not line's: a page of a few
	// lines, some large, is still mostly words of its body type.
	slices.Sort(words)
	usual := float64(words[len(words)/2])
	candidate := func(i int) bool {
		l := p.lines[i]
		high := p.height == 0 && i < max(1, len(p.lines)/3) || p.height > 0 && float64(l.top) < 0.4*float64(p.height)
		return high && len(l.text) <= 300 && float64(heights[i]) >= 1.3*usual && letters(l.text) >= 4
	}
	tallest := -1
	for i := range p.lines {
		if candidate(i) && (tallest < 0 || heights[i] > heights[tallest]) {
			tallest = i
		}
	}
	if tallest < 0 {
		return ""
	}
	var parts []string
	for i := range p.lines {
		// Within a tenth of the tallest: one size of type, recognised.
		if candidate(i) && float64(heights[i]) >= 0.9*float64(heights[tallest]) {
			if parts = append(parts, p.lines[i].text); len(parts) == 3 {
				break
			}
		} else if len(parts) > 0 {
			break
		}
	}
	return firstTitle(joinHyphenated(parts))
}

// letters counts the letters of s.
func letters(s string) int {
	n := 0
	for _, r := range s {
		if unicode.IsLetter(r) {
			n++
		}
	}
	return n
}

// errOCRFailed: tesseract (or the renderer) could not read the image.
var errOCRFailed = errors.New("ocr failed")

// runTool runs a program of OCRTools with stdin as its input and returns
// its standard output, at most maxOut bytes. ctx (the document's clock)
// kills it; so does the sandbox's kill of the child's process group.
// OMP_THREAD_LIMIT=1: tesseract's OpenMP threads would otherwise take
// every core, while the sandbox's CPU budget assumes Limits.Parallel.
func runTool(ctx context.Context, stdin []byte, maxOut int, prog string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Env = []string{"OMP_THREAD_LIMIT=1"}
	cmd.Stdin = bytes.NewReader(stdin)
	out := &capped{max: maxOut}
	stderr := &capped{max: 4 << 10}
	cmd.Stdout, cmd.Stderr = out, stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if out.over {
		return nil, fmt.Errorf("%w: %s wrote more than %d bytes", errOCRFailed, prog, maxOut)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v: %s", errOCRFailed, prog, err, strings.TrimSpace(stderr.b.String()))
	}
	return out.b.Bytes(), nil
}

// capped keeps the first max bytes written to it and notes the rest.
type capped struct {
	b    bytes.Buffer
	max  int
	over bool
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.b.Len(); len(p) > room {
		c.b.Write(p[:max(0, room)])
		c.over = true
		return len(p), nil
	}
	return c.b.Write(p)
}

// recognise runs tesseract on an image (any format leptonica reads; a
// multi-page TIFF gives several pages), with options (fixed strings such
// as "--dpi", "300") before the language.
func recognise(ctx context.Context, image []byte, lim Limits, options ...string) (map[int]*ocrPage, int, error) {
	langs := lim.OCRLanguages
	if langs == "" {
		langs = DefaultOCRLanguages
	}
	if !ValidOCRLanguages(langs) {
		return nil, 0, fail(CodeInternal, "the OCR languages %q are not a list of tesseract languages", langs)
	}
	args := append(append([]string{"stdin", "stdout"}, options...), "-l", langs, "tsv")
	out, err := runTool(ctx, image, lim.MaxTextBytes*4+1<<20, lim.Tesseract, args...)
	if err != nil {
		return nil, 0, err
	}
	return parseTSV(bytes.NewReader(out))
}

// addOCRPage writes a recognised page to b as page number n, its
// paragraphs with their line-end hyphens joined, and records it in rep.
// It reports whether the page was kept: a page below MinOCRConfidence is
// left out (and recorded as such).
func addOCRPage(b *builder, rep *OCRReport, n int, p *ocrPage) bool {
	if p == nil || p.words == 0 {
		return false
	}
	conf := p.meanConfidence()
	kept := conf >= MinOCRConfidence
	rep.Pages = append(rep.Pages, OCRPage{Page: n, Confidence: math.Round(conf*10) / 10, Words: p.words, Kept: kept})
	if !kept {
		return false
	}
	b.startPage(n)
	for _, para := range p.paragraphs {
		b.paragraph(joinHyphenated(para))
	}
	return true
}

// orNil returns r when it holds a page, else nil.
func (r *OCRReport) orNil() *OCRReport {
	if r == nil || len(r.Pages) == 0 {
		return nil
	}
	return r
}

// extractImage recognises the text of an image: each page of a
// multi-page TIFF is a page. It fails with unsupported_type when OCR is
// off (Limits.Tesseract empty), with no_text when nothing was recognised,
// and with ocr_low_confidence when every page's words were mostly guesses.
func extractImage(ctx context.Context, data []byte, lim Limits) (Extracted, error) {
	if lim.Tesseract == "" {
		return Extracted{}, fail(CodeUnsupportedType, "images are read by OCR, which is off on this server")
	}
	pages, n, err := recognise(ctx, data, lim)
	if err != nil {
		if errors.Is(err, errOCRFailed) && strings.Contains(strings.ToLower(err.Error()), "out of memory") {
			return Extracted{}, &Error{Code: CodeTooComplex, Err: err,
				Message: "decoding the image needed more memory than the extraction child has (its dimensions are absurd, or it is built to exhaust the reader)"}
		}
		if errors.Is(err, errOCRFailed) {
			return Extracted{}, &Error{Code: CodeImageMalformed, Message: "the image cannot be read (damaged, truncated, or a format the OCR does not read)", Err: err}
		}
		return Extracted{}, err
	}
	b := newBuilder(lim.MaxTextBytes)
	rep := &OCRReport{Languages: cmp.Or(lim.OCRLanguages, DefaultOCRLanguages)}
	kept, words := 0, 0
	for i := 1; i <= n; i++ {
		if p := pages[i]; p != nil {
			words += p.words
		}
		if addOCRPage(b, rep, i, pages[i]) {
			kept++
		}
	}
	if words == 0 {
		return Extracted{}, fail(CodeNoText, "no text was recognised in the image")
	}
	if kept == 0 {
		return Extracted{}, fail(CodeOCRLowConfidence, "the text recognised in the image is mostly guesswork (mean confidence under %d%%): a photograph, a poor scan, or a language other than %s", MinOCRConfidence, cmp.Or(lim.OCRLanguages, DefaultOCRLanguages))
	}
	ext, err := b.result()
	if err != nil {
		return Extracted{}, err
	}
	ext.PageCount = max(n, 1)
	ext.OCR = rep.orNil()
	if p := pages[1]; p != nil && p.meanConfidence() >= MinOCRConfidence {
		ext.Title = ocrTitle(p)
	}
	return ext, nil
}

// InstalledOCRLanguages lists the languages tesseract has data for
// (`tesseract --list-langs`), without "osd" (orientation and script
// detection, which recognises no text).
func InstalledOCRLanguages(ctx context.Context, tesseract string) ([]string, error) {
	out, err := exec.CommandContext(ctx, tesseract, "--list-langs").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list-langs: %w", tesseract, err)
	}
	var langs []string
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line == "osd" || strings.HasPrefix(line, "List of") || !ValidOCRLanguages(line) {
			continue
		}
		langs = append(langs, line)
	}
	return langs, nil
}

// MissingOCRLanguages returns the languages of langs ('+'-joined) that
// are not in installed.
func MissingOCRLanguages(langs string, installed []string) []string {
	var missing []string
	for _, l := range strings.Split(langs, "+") {
		if !slices.Contains(installed, l) {
			missing = append(missing, l)
		}
	}
	return missing
}
