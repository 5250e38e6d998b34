package api

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/extract"
	"github.com/ragd/ragd/ingest"
	"github.com/ragd/ragd/secret"
)

// maxFormField bounds each non-file field of a multipart upload.
const maxFormField = 64 << 10

// jsonUpload is the body of a text upload.
type jsonUpload struct {
	Text          string         `json:"text"`
	Format        string         `json:"format"`
	Title         string         `json:"title"`
	Filename      string         `json:"filename"`
	Tags          []string       `json:"tags"`
	Metadata      map[string]any `json:"metadata"`
	ExternalID    string         `json:"external_id"`
	MaxTokens     int            `json:"max_tokens"`
	OverlapTokens int            `json:"overlap_tokens"`
	// Password is accepted for symmetry with file uploads; text needs none.
	Password secret.String `json:"password"`
}

// uploads is what the upload route needs besides the stores: the limits,
// the budget shared by every upload this handler serves, and the floor of
// the rate their bodies arrive at.
type uploads struct {
	maxBytes int64
	// spoolDir holds multipart files while they arrive ("": os.TempDir()).
	spoolDir string
	budget   *uploadBudget
	floor    sendFloor
	ocr      bool // images are accepted
	// ocrLanguages are tesseract's installed languages (nil: unknown).
	ocrLanguages []string
}

func newUploads(d Deps) *uploads {
	return &uploads{maxBytes: d.MaxUploadBytes, spoolDir: d.UploadSpoolDir,
		budget: newUploadBudget(cmp.Or(d.MaxInflightUploadBytes, DefaultMaxInflightUploadBytes), d.MaxUploadBytes),
		floor:  sendFloor{rate: cmp.Or(d.UploadMinRate, DefaultUploadMinRate), grace: cmp.Or(d.UploadGrace, DefaultUploadGrace)},
		ocr:    d.OCR, ocrLanguages: d.OCRLanguages}
}

// bodyLimit bounds a whole upload request: the file plus room for the
// multipart framing and the other fields, or the JSON around the text.
func (up *uploads) bodyLimit(mediaType string) int64 {
	if mediaType == "application/json" {
		return up.maxBytes + maxFormField
	}
	return up.maxBytes + 1<<20
}

func handleUpload(docs *ingest.Documents, up *uploads) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		opts := ingest.CreateOptions{IdempotencyKey: r.Header.Get("Idempotency-Key")}
		switch v := r.URL.Query().Get("duplicate"); v {
		case "", "reject":
		case "allow":
			opts.AllowDuplicate = true
		default:
			return fieldError("duplicate", "must be allow or reject")
		}
		if k := opts.IdempotencyKey; k != "" && (len(k) > 255 || strings.IndexFunc(k, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0) {
			return fieldError("Idempotency-Key", "must be 1 to 255 visible ASCII characters")
		}
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt != "multipart/form-data" && mt != "application/json" {
			return errorf(http.StatusUnsupportedMediaType, codeUnsupportedMediaType, "upload a file as multipart/form-data (field \"file\") or text as application/json (field \"text\")")
		}
		release, err := up.reserve(r, t.TenantID, mt)
		if err != nil {
			return err
		}
		defer release()
		// The budget is held from here until the handler returns, cut or
		// not (release above, the spool closed below, no row written).
		body := pace(w, r, up.floor)
		var u ingest.Upload
		var spool *ingest.Spool
		if mt == "multipart/form-data" {
			u, spool, err = readMultipartUpload(w, r, up)
		} else {
			u, err = readJSONUpload(w, r, up.maxBytes)
		}
		defer spool.Close()
		if slow := body.tooSlow(); slow != nil {
			// Whatever the reader made of the cut body, this is why.
			w.Header().Set("Connection", "close")
			return slow
		}
		if err != nil {
			return err
		}
		body.finish()
		created, err := docs.Create(r.Context(), t.TenantID, u, opts)
		// The bytes are stored (or refused): free the file and the budget
		// before answering, so that a client's next upload, sent on this
		// answer, finds them free.
		spool.Close()
		release()
		if errors.Is(err, ingest.ErrIdempotencyMismatch) {
			return &httpError{status: http.StatusConflict, code: codeConflict, detail: err.Error(),
				fields: map[string]string{"Idempotency-Key": "was used for a different upload"}}
		}
		if err != nil {
			return err
		}
		status := http.StatusOK
		if created.New {
			status = http.StatusAccepted
		}
		w.Header().Set("Location", "/v1/documents/"+created.Document.ID.String())
		writeJSON(w, status, created.Document)
		return nil
	}
}

// reserve takes the upload's part of the budget before a byte of its body
// is read: its declared length, or the largest file allowed when it
// declares none (a chunked body). A declared length over the limit is
// refused at once, unread. A full budget answers 503 overloaded; a tenant
// past its share of it (uploadBudget.share) 429 too_many_uploads.
func (up *uploads) reserve(r *http.Request, tenant uuid.UUID, mediaType string) (release func(), err error) {
	if r.ContentLength > up.bodyLimit(mediaType) {
		return nil, tooLarge(up.maxBytes)
	}
	n := up.maxBytes
	if r.ContentLength >= 0 {
		n = min(r.ContentLength, up.maxBytes)
	}
	release, refused := up.budget.reserve(tenant, n)
	switch {
	case refused == nil:
		return release, nil
	case refused.Full:
		detail := "the server is receiving as many uploads as it can hold at once (" + byteSize(refused.Limit) + ")"
		if refused.Own > 0 {
			detail += ", " + byteSize(refused.Own) + " of them this tenant's own"
		}
		return nil, &httpError{status: http.StatusServiceUnavailable, code: codeOverloaded, retryAfter: uploadRetryAfter,
			detail: detail + "; retry after the time in Retry-After"}
	}
	others := "while no other tenant uploads"
	if refused.Tenants > 1 {
		others = fmt.Sprintf("while %d tenants upload at once", refused.Tenants)
	}
	return nil, &httpError{status: http.StatusTooManyRequests, code: codeTooManyUploads, retryAfter: uploadRetryAfter,
		detail: fmt.Sprintf("this tenant's own uploads in flight hold %s of the server's upload budget, and this one (%s) would take it past "+
			"the tenant's share, %s %s; retry when one of them has finished (Retry-After)", byteSize(refused.Own), byteSize(refused.Asked), byteSize(refused.Share), others)}
}

func fieldError(field, msg string) error {
	return &httpError{status: http.StatusBadRequest, code: codeValidationFailed, detail: "the request has invalid fields",
		fields: map[string]string{field: msg}}
}

func tooLarge(limit int64) error {
	return errorf(http.StatusRequestEntityTooLarge, codePayloadTooLarge, "the file is larger than the upload limit of "+byteSize(limit))
}

// readMultipartUpload reads the form, spooling the file part to disk as it
// arrives (hashed and size-checked on the way). On success the caller
// closes the spool; on error nothing is left open.
func readMultipartUpload(w http.ResponseWriter, r *http.Request, up *uploads) (_ ingest.Upload, _ *ingest.Spool, err error) {
	var u ingest.Upload
	var spool *ingest.Spool
	defer func() {
		if err != nil {
			spool.Close()
		}
	}()
	r.Body = http.MaxBytesReader(w, r.Body, up.bodyLimit("multipart/form-data"))
	mr, err := r.MultipartReader()
	if err != nil {
		return u, nil, errorf(http.StatusBadRequest, codeInvalidJSON, "the multipart body could not be read: "+err.Error())
	}
	var probs ragd.Problems
	gotFile := false
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return u, nil, tooLarge(up.maxBytes)
		}
		if err != nil {
			return u, nil, fieldError("body", "the multipart body is malformed")
		}
		name := part.FormName()
		if name == "file" {
			if gotFile {
				probs.Add("file", "send one file per upload")
				continue
			}
			gotFile = true
			// Cleaned before Detect, which reads the extension of the
			// name that will be stored.
			u.Filename = ingest.BaseName(part.FileName())
			body := &readErrors{r: part}
			spool, err = ingest.NewSpool(up.spoolDir, body, up.maxBytes)
			switch {
			case errors.Is(err, ingest.ErrTooLarge), errors.As(body.err, &mbe):
				return u, nil, tooLarge(up.maxBytes)
			case body.err != nil:
				// A broken body, or a client that went away.
				return u, nil, fieldError("file", "the file could not be read")
			case err != nil:
				return u, nil, err
			}
			continue
		}
		val, err := io.ReadAll(io.LimitReader(part, maxFormField+1))
		if err != nil || len(val) > maxFormField {
			probs.Add(name, "must be at most %d bytes", maxFormField)
			continue
		}
		s := string(val)
		switch name {
		case "password":
			// Opens a protected PDF; sealed until its job has run (ingest.Documents.Create).
			u.Password = secret.String(s)
		case "title":
			u.Title = s
		case "external_id":
			u.ExternalID = s
		case "tags":
			if strings.HasPrefix(strings.TrimSpace(s), "[") {
				var tags []string
				if json.Unmarshal(val, &tags) != nil {
					probs.Add("tags", "must be a JSON array of strings, or one tag per field")
				}
				u.Tags = append(u.Tags, tags...)
			} else {
				u.Tags = append(u.Tags, s)
			}
		case "metadata":
			dec := json.NewDecoder(bytes.NewReader(val))
			if dec.Decode(&u.Metadata) != nil || dec.More() {
				probs.Add("metadata", "must be a JSON object of strings, numbers and booleans")
			}
		case "ocr":
			on, err := strconv.ParseBool(strings.TrimSpace(s))
			if err != nil {
				probs.Add("ocr", "must be true or false")
			}
			u.OCR.Enabled = &on
		case "ocr_languages":
			u.OCR.Languages = strings.TrimSpace(s)
		case "max_tokens", "overlap_tokens":
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil {
				probs.Add(name, "must be an integer")
			}
			if name == "max_tokens" {
				u.MaxTokens = n
			} else {
				u.OverlapTokens = n
			}
		default:
			probs.Add(name, "unknown field")
		}
	}
	if !gotFile {
		probs.Add("file", "is required: send the document in a form field named \"file\"")
	}
	up.checkOCR(&probs, u.OCR)
	if err := probs.Err(); err != nil {
		return u, nil, err
	}
	if spool.Size() == 0 {
		return u, nil, fieldError("file", "is empty")
	}
	typ, ok := extract.Detect(spool, spool.Size(), u.Filename)
	if ok && typ.IsImage() && !up.ocr {
		return u, nil, errorf(http.StatusUnsupportedMediaType, codeUnsupportedMediaType,
			"the file is an image, and images are read by OCR, which is off on this server (RAGD_OCR); supported: PDF, Word (.docx), PowerPoint (.pptx), Excel (.xlsx), OpenDocument (.odt, .ods, .odp), EPUB, e-mail (.eml), CSV, HTML, Markdown and plain text")
	}
	if p := extract.CompoundFileProblem(spool, spool.Size()); !ok && p != "" {
		return u, nil, errorf(http.StatusUnsupportedMediaType, codeUnsupportedMediaType, p)
	}
	if !ok {
		return u, nil, errorf(http.StatusUnsupportedMediaType, codeUnsupportedMediaType,
			"the file is not a document ragd can read; supported: PDF, Word (.docx), PowerPoint (.pptx), Excel (.xlsx), OpenDocument (.odt, .ods, .odp), EPUB, e-mail (.eml), CSV, HTML, Markdown, plain text, and images (PNG, JPEG, TIFF, WebP, GIF) when OCR is on")
	}
	u.Type, u.Content = typ, spool
	return u, spool, nil
}

// readErrors remembers its reader's error, so that a failure to read the
// client's body can be told from a failure to write the spool.
type readErrors struct {
	r   io.Reader
	err error
}

func (e *readErrors) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		e.err = err
	}
	return n, err
}

// readJSONUpload reads a text upload. The text stays in memory: the body
// is at most the upload limit, and the budget counted it before reading.
func readJSONUpload(w http.ResponseWriter, r *http.Request, maxUpload int64) (ingest.Upload, error) {
	var in jsonUpload
	if err := decodeLimit(w, r, &in, maxUpload+maxFormField); err != nil {
		return ingest.Upload{}, err
	}
	if strings.TrimSpace(in.Text) == "" {
		return ingest.Upload{}, fieldError("text", "is required and must not be blank")
	}
	if int64(len(in.Text)) > maxUpload {
		return ingest.Upload{}, tooLarge(maxUpload)
	}
	typ := extract.TypeText
	switch in.Format {
	case "", "text":
	case "markdown":
		typ = extract.TypeMarkdown
	case "html":
		typ = extract.TypeHTML
	default:
		return ingest.Upload{}, fieldError("format", "must be text, markdown or html")
	}
	return ingest.Upload{
		Title: in.Title, Filename: in.Filename, Content: ingest.BytesContent([]byte(in.Text)), Type: typ, Tags: in.Tags,
		Metadata: in.Metadata, ExternalID: in.ExternalID, MaxTokens: in.MaxTokens, OverlapTokens: in.OverlapTokens, Password: in.Password,
	}, nil
}

var documentStatuses = []string{ingest.StatusQueued, ingest.StatusProcessing, ingest.StatusReady, ingest.StatusFailed, ingest.StatusDeleting}

func handleListDocuments(docs *ingest.Documents) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		page, err := pageFrom(r)
		if err != nil {
			return err
		}
		q := r.URL.Query()
		f := ingest.Filter{Status: q.Get("status"), Tag: q.Get("tag"), ExternalID: q.Get("external_id"), Title: q.Get("title")}
		if f.Status != "" && !slices.Contains(documentStatuses, f.Status) {
			return fieldError("status", "must be one of "+strings.Join(documentStatuses, ", "))
		}
		if utf8.RuneCountInString(f.Title) > ingest.MaxTitleLen {
			return fieldError("title", fmt.Sprintf("must be at most %d characters", ingest.MaxTitleLen))
		}
		switch q.Get("order") {
		case "", "asc":
		case "desc":
			f.NewestFirst = true
		default:
			return fieldError("order", "must be asc or desc")
		}
		switch q.Get("sort") {
		case "", "created":
		case "title":
			f.ByTitle = true
		default:
			return fieldError("sort", "must be created or title")
		}
		list, next, err := docs.List(r.Context(), t.TenantID, f, page)
		if err != nil {
			return err
		}
		total, err := docs.Count(r.Context(), t.TenantID, f)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, documentList{list: newList(list, next), Total: total})
		return nil
	}
}

// documentList is a page of documents and how many the filter keeps on
// every page together.
type documentList struct {
	list[ingest.Document]
	Total int `json:"total"`
}

func handleGetDocument(docs *ingest.Documents) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		id, err := pathUUID(r, "document_id")
		if err != nil {
			return err
		}
		d, err := docs.Get(r.Context(), t.TenantID, id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, d)
		return nil
	}
}

// documentEdit is the body of PATCH /v1/documents/{id}: absent (or null)
// fields keep their value; tags and metadata are replaced whole.
type documentEdit struct {
	Title    *string         `json:"title"`
	Tags     *[]string       `json:"tags"`
	Metadata *map[string]any `json:"metadata"`
}

func handleUpdateDocument(docs *ingest.Documents) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		id, err := pathUUID(r, "document_id")
		if err != nil {
			return err
		}
		var in documentEdit
		if err := decode(w, r, &in); err != nil {
			return err
		}
		e := ingest.Edit{Title: in.Title, Tags: in.Tags}
		if in.Metadata != nil {
			e.Metadata = *in.Metadata
		}
		d, err := docs.Update(r.Context(), t.TenantID, id, e)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, d)
		return nil
	}
}

func handleDocumentHistory(docs *ingest.Documents) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		id, err := pathUUID(r, "document_id")
		if err != nil {
			return err
		}
		h, err := docs.History(r.Context(), t.TenantID, id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, newList(h, nil))
		return nil
	}
}

func handleListChunks(docs *ingest.Documents) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		id, err := pathUUID(r, "document_id")
		if err != nil {
			return err
		}
		page, err := pageFrom(r)
		if err != nil {
			return err
		}
		chunks, next, err := docs.Chunks(r.Context(), t.TenantID, id, page)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, newList(chunks, next))
		return nil
	}
}

func handleDocumentContent(log *slog.Logger, docs *ingest.Documents) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		id, err := pathUUID(r, "document_id")
		if err != nil {
			return err
		}
		d, content, size, err := docs.OpenContent(r.Context(), t.TenantID, id)
		if err != nil {
			return err
		}
		defer content.Close()
		// The stored name is a BaseName already; cleaning it again (a
		// no-op) also covers rows stored before names were cleaned.
		name := "document"
		if d.Filename != nil {
			name = cmp.Or(ingest.BaseName(*d.Filename), name)
		}
		w.Header().Set("Content-Type", d.Type.MediaType())
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if d.Type == extract.TypePDF {
			// A PDF opens in the browser (a search hit's source_url points
			// at its page with #page=N): application/pdf and nosniff mean a
			// PDF viewer, never our origin's HTML. No CSP sandbox here:
			// browsers refuse to show a PDF in a sandboxed document.
			w.Header().Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": name}))
		} else {
			// Any other type is a download: an uploaded HTML page must not
			// run in our origin.
			w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
			w.Header().Set("Content-Security-Policy", "sandbox")
		}
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		// Part by part, from Postgres to the client.
		if _, err := io.Copy(w, content); err != nil {
			if r.Context().Err() != nil {
				return nil // the client went away
			}
			// The status is sent: cut the connection, so that the client
			// sees a short body rather than a complete-looking wrong one.
			log.ErrorContext(r.Context(), "document content interrupted", "err", err, "document_id", id, "request_id", requestID(r.Context()))
			panic(http.ErrAbortHandler)
		}
		return nil
	}
}

// checkOCR adds the problems of a document's OCR settings that only the
// server can see: OCR asked for when it has none, languages it has not
// installed.
func (up *uploads) checkOCR(probs *ragd.Problems, o ingest.OCROptions) {
	if !up.ocr {
		if o.Enabled != nil && *o.Enabled || o.Languages != "" {
			probs.Add("ocr", "OCR is off on this server (RAGD_OCR=off, or tesseract is not installed)")
		}
		return
	}
	if o.Languages == "" || !extract.ValidOCRLanguages(o.Languages) || len(up.ocrLanguages) == 0 {
		return // Validate names the malformed; an unknown list of installed ones lets tesseract decide
	}
	for _, l := range strings.Split(o.Languages, "+") {
		if !slices.Contains(up.ocrLanguages, l) {
			probs.Add("ocr_languages", "%q is not installed on this server; installed: %s (Debian: apt-get install tesseract-ocr-<lang>)",
				l, strings.Join(up.ocrLanguages, ", "))
		}
	}
}

func handleReindexDocument(docs *ingest.Documents, up *uploads) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		id, err := pathUUID(r, "document_id")
		if err != nil {
			return err
		}
		// An optional body: {"password": "..."} opens a protected PDF;
		// "ocr" and "ocr_languages" replace the document's OCR settings.
		var in struct {
			Password     secret.String `json:"password"`
			OCR          *bool         `json:"ocr"`
			OCRLanguages string        `json:"ocr_languages"`
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFormField))
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(body)) > 0 {
			r.Body = io.NopCloser(bytes.NewReader(body))
			if err := decodeLimit(w, r, &in, maxFormField); err != nil {
				return err
			}
		}
		opts := ingest.ReindexOptions{Password: in.Password, OCR: ingest.OCROptions{Enabled: in.OCR, Languages: strings.TrimSpace(in.OCRLanguages)}}
		var probs ragd.Problems
		up.checkOCR(&probs, opts.OCR)
		if err := probs.Err(); err != nil {
			return err
		}
		d, err := docs.Reindex(r.Context(), t.TenantID, id, opts)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusAccepted, d)
		return nil
	}
}

func handleDeleteDocument(docs *ingest.Documents) tenantHandler {
	return func(w http.ResponseWriter, r *http.Request, t tenantScope) error {
		id, err := pathUUID(r, "document_id")
		if err != nil {
			return err
		}
		d, err := docs.Delete(r.Context(), t.TenantID, id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusAccepted, d)
		return nil
	}
}
