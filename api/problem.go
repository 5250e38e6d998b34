package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/ragd/ragd"
	"github.com/ragd/ragd/postgres"
	"github.com/ragd/ragd/spaces"
)

// Stable problem codes. Clients match on these, never on titles or details.
// Every code the API writes is one of these; docs/api.md's table and
// openapi.json's Problem schema list each (TestErrorCodesAreDocumented).
const (
	codeInvalidJSON                 = "invalid_json"
	codeValidationFailed            = "validation_failed"
	codeUnauthorized                = "unauthorized"
	codeForbiddenScope              = "forbidden_scope"
	codeCSRFFailed                  = "csrf_failed"
	codeUnknownOrganization         = "unknown_organization"
	codeNotFound                    = "not_found"
	codeMethodNotAllowed            = "method_not_allowed"
	codeConflict                    = "conflict"
	codePreconditionFailed          = "precondition_failed"
	codePayloadTooLarge             = "payload_too_large"
	codeUnsupportedMediaType        = "unsupported_media_type"
	codeInternal                    = "internal"
	codeOverloaded                  = "overloaded"
	codeIdentityProviderUnavailable = "identity_provider_unavailable"
	codeRetrievalDisabled           = "retrieval_disabled"
	codeEmbeddingUnavailable        = "embedding_unavailable"
	codeQuotaExceeded               = "quota_exceeded"
	codeUnavailable                 = "unavailable"
	codeTooManyUploads              = "too_many_uploads"
	codeUploadTooSlow               = "upload_too_slow"
)

// unavailableRetryAfter is what a client is told to wait when the
// database cannot be reached or takes no more connections.
const unavailableRetryAfter = 5 * time.Second

// httpError is an error the HTTP layer itself raises, with what the client
// may see. Domain errors are mapped in problemFor instead.
type httpError struct {
	status int
	code   string
	detail string
	fields map[string]string
	// retryAfter, when set, is sent as the Retry-After header.
	retryAfter time.Duration
}

func (e *httpError) Error() string { return e.code + ": " + e.detail }

func errorf(status int, code, detail string) error {
	return &httpError{status: status, code: code, detail: detail}
}

// problem is an RFC 9457 problem document.
type problem struct {
	Type      string            `json:"type"`
	Title     string            `json:"title"`
	Status    int               `json:"status"`
	Code      string            `json:"code"`
	Detail    string            `json:"detail,omitempty"`
	Errors    map[string]string `json:"errors,omitempty"`
	Instance  string            `json:"instance,omitempty"`
	RequestID string            `json:"request_id,omitempty"`
	// retryAfter, when set, is sent as Retry-After (seconds).
	retryAfter time.Duration
}

// problemFor maps any error to what the client sees. Anything it does not
// recognise is a 500 whose detail says nothing about the cause.
func problemFor(err error) problem {
	var (
		he  *httpError
		ve  *ragd.ValidationError
		ce  *ragd.ConflictError
		mbe *http.MaxBytesError
		qe  *ragd.QuotaError
		ue  *spaces.UnavailableError
	)
	switch {
	case errors.As(err, &he):
		return problem{Status: he.status, Code: he.code, Detail: he.detail, Errors: he.fields, retryAfter: he.retryAfter}
	case errors.As(err, &ve):
		return problem{Status: http.StatusBadRequest, Code: codeValidationFailed, Detail: "the request has invalid fields", Errors: ve.Fields}
	case errors.As(err, &ce):
		return problem{Status: http.StatusConflict, Code: codeConflict, Detail: ce.Message, Errors: map[string]string{ce.Field: ce.Message}}
	case errors.As(err, &qe):
		detail := fmt.Sprintf("the tenant's %s quota is used up (%d of %d)", qe.Quota, qe.Used, qe.Limit)
		switch {
		case qe.RetryAfter > 0:
			detail += "; it resets at the start of next month (UTC)"
		case qe.Quota == "webhook_endpoints": // a fixed limit (webhooks.MaxEndpoints)
			detail += "; delete an endpoint the tenant no longer uses to register another"
		case qe.Quota == "sources": // a fixed limit (sources.MaxSources)
			detail += "; delete a source the tenant no longer uses to add another"
		default:
			detail += "; delete documents or ask the platform for a higher quota"
		}
		return problem{Status: http.StatusTooManyRequests, Code: codeQuotaExceeded, Detail: detail, retryAfter: qe.RetryAfter}
	case errors.As(err, &ue):
		return problem{Status: http.StatusBadGateway, Code: codeEmbeddingUnavailable, Detail: ue.Message, retryAfter: ue.RetryAfter}
	case errors.Is(err, spaces.ErrNoneOffered):
		return problem{Status: http.StatusForbidden, Code: codeForbiddenScope, Detail: spaces.ErrNoneOffered.Error()}
	case errors.As(err, &mbe):
		return problem{Status: http.StatusRequestEntityTooLarge, Code: codePayloadTooLarge, Detail: "the request body is larger than the limit of " + byteSize(mbe.Limit)}
	case errors.Is(err, ragd.ErrNotFound):
		return problem{Status: http.StatusNotFound, Code: codeNotFound, Detail: "no such object"}
	case errors.Is(err, ragd.ErrPreconditionFailed):
		return problem{Status: http.StatusPreconditionFailed, Code: codePreconditionFailed, Detail: "the object has changed since the version given in If-Match; fetch it again"}
	case errors.Is(err, ragd.ErrUnauthorized):
		return problem{Status: http.StatusUnauthorized, Code: codeUnauthorized, Detail: "missing, unknown, revoked or expired credentials"}
	case postgres.Unavailable(err):
		return problem{Status: http.StatusServiceUnavailable, Code: codeUnavailable, retryAfter: unavailableRetryAfter,
			Detail: "the database cannot be reached or takes no more connections just now; retry after the time in Retry-After"}
	default:
		return problem{Status: http.StatusInternalServerError, Code: codeInternal, Detail: "an internal error occurred; quote the request_id when reporting it"}
	}
}

// writeError answers with the problem for err. Server errors are logged
// here, once, with their cause; client errors are not worth a log line.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	p := problemFor(err)
	p.Type = "urn:ragd:problem:" + p.Code
	p.Title = http.StatusText(p.Status)
	p.Instance = r.URL.Path
	p.RequestID = requestID(r.Context())
	// A refusal under load is expected and says nothing is broken; the
	// request log line records it.
	if p.Status >= 500 && p.Code != codeOverloaded {
		log.ErrorContext(r.Context(), "request failed", "err", err, "request_id", p.RequestID, "route", r.Pattern)
	}
	if p.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(p.retryAfter.Seconds()))))
	}
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ragd"`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// byteSize says n bytes for people: exactly in MiB or KiB when it is a
// whole number of them, else to a tenth of a MiB from 1 MiB up (a share of
// the upload budget: "68.7 MiB", not "72002218 bytes").
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return itoa(n>>20) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return itoa(n>>10) + " KiB"
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
	}
	return itoa(n) + " bytes"
}
