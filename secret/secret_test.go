package secret

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
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

func TestBoxRotation(t *testing.T) {
	t.Parallel()
	oldKey, newKey := NewKey(), NewKey()
	oldBox, err := NewBox(oldKey)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := NewBox(newKey, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	newOnly, _ := NewBox(newKey)
	ad := []byte("agent-a")

	t.Run("PreviousKeyOpens", func(t *testing.T) {
		t.Parallel()
		sealed := oldBox.Seal([]byte("v"), ad)
		if got, err := rotated.Open(sealed, ad); err != nil || string(got) != "v" {
			t.Fatalf("Open with the key as previous = %q, %v", got, err)
		}
		if _, err := rotated.Open(sealed, []byte("agent-b")); !errors.Is(err, ErrOpen) {
			t.Fatalf("previous key, other record: err = %v, want ErrOpen", err)
		}
	})
	t.Run("UnknownKeyNamed", func(t *testing.T) {
		t.Parallel()
		_, err := newOnly.Open(oldBox.Seal([]byte("v"), ad), ad)
		if !errors.Is(err, ErrOpen) || !strings.Contains(err.Error(), KeyID(oldKey)) {
			t.Fatalf("err = %v, want ErrOpen naming key %s", err, KeyID(oldKey))
		}
	})
	t.Run("PrefixTellsCurrentFromOld", func(t *testing.T) {
		t.Parallel()
		if !bytes.HasPrefix(rotated.Seal([]byte("v"), ad), rotated.CurrentPrefix()) {
			t.Fatal("a value sealed now does not begin with CurrentPrefix")
		}
		if bytes.HasPrefix(oldBox.Seal([]byte("v"), ad), rotated.CurrentPrefix()) {
			t.Fatal("a value sealed with the previous key begins with CurrentPrefix")
		}
		if !bytes.Equal(rotated.CurrentPrefix(), newOnly.CurrentPrefix()) {
			t.Fatal("CurrentPrefix depends on the previous keys")
		}
	})
	t.Run("Format1OpensWithAnyKey", func(t *testing.T) {
		t.Parallel()
		// A value as ragd sealed it before key ids: 1, nonce, ciphertext.
		for _, key := range [][]byte{newKey, oldKey} {
			v1 := sealFormat1(t, key, []byte("legacy"), ad)
			if got, err := rotated.Open(v1, ad); err != nil || string(got) != "legacy" {
				t.Fatalf("format 1 = %q, %v", got, err)
			}
		}
		if _, err := newOnly.Open(sealFormat1(t, oldKey, []byte("legacy"), ad), ad); !errors.Is(err, ErrOpen) {
			t.Fatalf("format 1 with an unknown key: err = %v", err)
		}
	})
	t.Run("KeyIDTampered", func(t *testing.T) {
		t.Parallel()
		sealed := rotated.Seal([]byte("v"), ad)
		sealed[1] ^= 1
		if _, err := rotated.Open(sealed, ad); !errors.Is(err, ErrOpen) {
			t.Fatalf("err = %v", err)
		}
		for _, in := range [][]byte{{2}, {2, 1, 2}, append([]byte{2}, rotated.CurrentPrefix()[1:]...)} {
			if _, err := rotated.Open(in, ad); !errors.Is(err, ErrOpen) {
				t.Fatalf("Open(%x) err = %v", in, err)
			}
		}
	})
	t.Run("KeysChecked", func(t *testing.T) {
		t.Parallel()
		if _, err := NewBox(newKey, oldKey[:16]); err == nil {
			t.Fatal("a short previous key was accepted")
		}
		if KeyID(oldKey) == KeyID(newKey) || KeyID(oldKey) != KeyID(bytes.Clone(oldKey)) {
			t.Fatal("KeyID is not a function of the key")
		}
		if strings.Contains(KeyID(oldKey), fmt.Sprintf("%x", oldKey[:KeyIDSize])) {
			t.Fatal("KeyID shows the key's bytes")
		}
	})
}

// sealFormat1 seals as Box did before format 2.
func sealFormat1(t *testing.T, key, plaintext, associated []byte) []byte {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	return aead.Seal(append([]byte{1}, nonce...), nonce, plaintext, associated)
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

// FuzzOpen: any bytes given as a sealed value are refused with ErrOpen,
// never a panic or another error, and what Seal makes of any plaintext
// opens to it, with either key of a rotation.
func FuzzOpen(f *testing.F) {
	oldKey := make([]byte, KeySize) // fixed keys: the corpus stays meaningful
	newKey := bytes.Repeat([]byte{7}, KeySize)
	oldBox, _ := NewBox(oldKey)
	box, err := NewBox(newKey, oldKey)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte{}, []byte("v"), []byte("ad"))
	f.Add([]byte{1}, []byte(""), []byte(""))
	f.Add([]byte{2, 0, 0, 0, 0}, []byte("x"), []byte("agent"))
	f.Add(box.Seal([]byte("v"), []byte("ad")), []byte("v"), []byte("ad"))
	f.Add(oldBox.Seal([]byte("v"), []byte("ad")), []byte("v"), []byte("ad"))
	f.Add(append(box.CurrentPrefix(), make([]byte, 12)...), []byte("v"), []byte("ad"))
	f.Fuzz(func(t *testing.T, sealed, plain, ad []byte) {
		if _, err := box.Open(sealed, ad); err != nil && !errors.Is(err, ErrOpen) {
			t.Fatalf("Open(%x) = %v, not ErrOpen", sealed, err)
		}
		for _, b := range []*Box{box, oldBox} {
			got, err := box.Open(b.Seal(plain, ad), ad)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("a sealed value did not open: %q, %v", got, err)
			}
		}
	})
}
