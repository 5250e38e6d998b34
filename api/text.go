package api

import (
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// textProblem says what is wrong with s as text Postgres can store, or ""
// when nothing is: Postgres refuses NUL and bytes that are not UTF-8 in
// text and jsonb (SQLSTATE 22021), which would otherwise end a request in
// a 500.
func textProblem(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "must not contain NUL (U+0000) characters"
	}
	return ""
}

// textError is the 400 for a parameter whose value textProblem refuses;
// kind says where the parameter was ("query parameter", "JSON field").
func textError(kind, name, msg string) error {
	quoted := strconv.Quote(name)
	if textProblem(name) != "" {
		name = quoted // the name itself is the bad text
	}
	return &httpError{status: http.StatusBadRequest, code: codeValidationFailed,
		detail: "the " + kind + " " + quoted + " " + msg, fields: map[string]string{name: msg}}
}
