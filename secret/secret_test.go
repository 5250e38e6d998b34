package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestBox(t *testing.T) {
	t.Parallel()
	box, err := NewBox(NewKey())
	if err != nil {
		t.Fatal(err)
	}

	t.Run("RoundTrips", func(t *testing.T) {
		t.Parallel()
		sealed := box.Seal([]byte("sk-lf-123"), []byte("agent-a"))
		if bytes.Contains(sealed, []byte("sk-lf-123")) {
			t.Fatal("sealed value contains the plaintext")
		}
		got, err := box.Open(sealed, []byte("agent-a"))
		if err != nil || string(got) != "sk-lf-123" {
			t.Fatalf("Open = %q, %v", got, err)
		}
	})
	t.Run("FreshNonceEachTime", func(t *testing.T) {
		t.Parallel()
		if bytes.Equal(box.Seal([]byte("x"), nil), box.Seal([]byte("x"), nil)) {
			t.Fatal("two seals of the same value are identical")
		}
	})
	t.Run("RejectsOtherRecord", func(t *testing.T) {
		t.Parallel()
		sealed := box.Seal([]byte("v"), []byte("agent-a"))
		if _, err := box.Open(sealed, []byte("agent-b")); !errors.Is(err, ErrOpen) {
			t.Fatalf("err = %v, want ErrOpen", err)
		}
	})
	t.Run("RejectsOtherKey", func(t *testing.T) {
		t.Parallel()
		other, _ := NewBox(NewKey())
		if _, err := other.Open(box.Seal([]byte("v"), nil), nil); !errors.Is(err, ErrOpen) {
			t.Fatalf("err = %v, want ErrOpen", err)
		}
	})
	t.Run("RejectsTamperedAndShort", func(t *testing.T) {
		t.Parallel()
		sealed := box.Seal([]byte("value"), nil)
		sealed[len(sealed)-1] ^= 1
		for _, in := range [][]byte{sealed, nil, {1}, {9, 1, 2, 3}} {
			if _, err := box.Open(in, nil); !errors.Is(err, ErrOpen) {
				t.Fatalf("Open(%x) err = %v, want ErrOpen", in, err)
			}
		}
	})
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	key := NewKey()
	for _, s := range []string{
		base64.StdEncoding.EncodeToString(key),
		base64.RawURLEncoding.EncodeToString(key),
		" " + base64.StdEncoding.EncodeToString(key) + "\n",
	} {
		got, err := ParseKey(s)
		if err != nil || !bytes.Equal(got, key) {
			t.Fatalf("ParseKey(%q) = %x, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "not base64!", base64.StdEncoding.EncodeToString(key[:16])} {
		if _, err := ParseKey(s); err == nil {
			t.Fatalf("ParseKey(%q) succeeded", s)
		}
	}
	if _, err := NewBox(key[:16]); err == nil {
		t.Fatal("NewBox accepted a 16-byte key")
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"":                     "****",
		"short":                "****",
		"sk-lf-0123456789abcd": "****abcd",
		"ключ-секрет-ещё-длин": "****длин",
	}
	for in, want := range cases {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStringNeverPrintsInTheClear(t *testing.T) {
	t.Parallel()
	const plain = "sk-lf-super-secret-value-9876"
	s := String(plain)
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "secret", s, "in_struct", struct{ S String }{s})
	js, _ := json.Marshal(map[string]String{"k": s})
	outputs := []string{
		fmt.Sprint(s), fmt.Sprintf("%v %s %q %x %+v %#v", s, s, s, s, s, s),
		fmt.Sprintf("%v %+v", struct{ S String }{s}, []String{s}),
		string(js), logs.String(),
	}
	for _, out := range outputs {
		if strings.Contains(out, plain) || strings.Contains(out, "super-secret") {
			t.Fatalf("secret leaked: %s", out)
		}
		if !strings.Contains(out, "****9876") {
			t.Fatalf("redacted form missing from %s", out)
		}
	}
	var back String
	if err := json.Unmarshal([]byte(`"`+plain+`"`), &back); err != nil || back.Reveal() != plain {
		t.Fatalf("UnmarshalJSON = %q, %v", back.Reveal(), err)
	}
}
