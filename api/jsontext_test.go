package api

import (
	"errors"
	"testing"
)

// TestJSONText names the first string or key a JSON value holds that
// Postgres cannot store, however deep, and lets any other text pass.
func TestJSONText(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{ // body: the field named ("" for none)
		`{"a":"x\u0000"}`:                     "a",
		"{\"a\":\"caf\xe9\"}":                 "a",
		`{"a":{"b":[1,"ok",{"c":"\u0000"}]}}`: "a.b[2].c",
		`{"a":[["x"],["\u0000"]]}`:            "a[1][0]",
		`{"a":{"k\u0000":1}}`:                 "a",
		"{\"k\xff\":1}":                       "body",
		`"\u0000"`:                            "body",
		`{"a":"caf\u00e9","b":"日本語","c":"\ufffd","d":"\\u0000","e":null,"f":[true,1.5]}`: "",
		"{\"a\":\"\xef\xbf\xbd\"}": "", // U+FFFD as UTF-8: text like any other
		`{"a":"\ud800"}`:           "", // a lone surrogate decodes to U+FFFD; Postgres takes it
	} {
		err := jsonText([]byte(raw))
		var he *httpError
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: %v, want nothing refused", raw, err)
		case want == "":
		case !errors.As(err, &he) || he.status != 400 || he.fields[want] == "":
			t.Errorf("%q: %v, want %q named", raw, err, want)
		}
	}
}
