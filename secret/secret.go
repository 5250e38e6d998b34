// Package secret seals small secrets (Langfuse secret keys, MCP header
// values) for storage at rest with AES-256-GCM, and redacts them for display.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// KeySize is the size of an encryption key in bytes (AES-256).
const KeySize = 32

// Formats, the first byte of every sealed value: format 1 (before key
// rotation) is the nonce and the ciphertext; format 2 puts the sealing
// key's id between the format byte and the nonce, so that a value names
// the key that opens it, and values sealed with an earlier key can be
// found (by their first bytes, in SQL too) and sealed again.
const (
	format1 byte = 1
	format2 byte = 2
)

// KeyIDSize is the size of a key id in a sealed value.
const KeyIDSize = 4

// ErrOpen is returned when a sealed value cannot be opened: no configured
// key opens it, tampered bytes, or a value sealed for another record.
var ErrOpen = errors.New("secret: cannot open sealed value")

// Box seals values with its current key and opens them with the current
// key or any previous one. It is safe for concurrent use.
type Box struct {
	current keyed
	keys    []keyed // current first, then the previous ones
}

type keyed struct {
	id   [KeyIDSize]byte
	aead cipher.AEAD
}

// NewBox returns a Box that seals with key (32 bytes) and opens what key
// or any of previous sealed: a key is rotated by making the old one
// previous, sealing again what it sealed, then dropping it.
func NewBox(key []byte, previous ...[]byte) (*Box, error) {
	cur, err := newKeyed(key)
	if err != nil {
		return nil, err
	}
	b := &Box{current: cur, keys: []keyed{cur}}
	for i, p := range previous {
		k, err := newKeyed(p)
		if err != nil {
			return nil, fmt.Errorf("previous key %d: %w", i+1, err)
		}
		if !slices.ContainsFunc(b.keys, func(o keyed) bool { return o.id == k.id }) {
			b.keys = append(b.keys, k)
		}
	}
	return b, nil
}

func newKeyed(key []byte) (keyed, error) {
	if len(key) != KeySize {
		return keyed{}, fmt.Errorf("secret: key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return keyed{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return keyed{}, err
	}
	return keyed{id: keyID(key), aead: aead}, nil
}

// keyID names a key without giving it away: the first bytes of a hash of
// it under a label of its own.
func keyID(key []byte) [KeyIDSize]byte {
	h := sha256.Sum256(append([]byte("ragd secret key id\x00"), key...))
	return [KeyIDSize]byte(h[:KeyIDSize])
}

// KeyID returns the id of a 32-byte key as hex, as ragd logs it: how an
// operator tells which key a process has without printing the key.
func KeyID(key []byte) string {
	id := keyID(key)
	return hex.EncodeToString(id[:])
}

// CurrentPrefix returns the first bytes of every value Seal makes now: a
// value that does not begin with them was sealed with another key (or in
// format 1) and is one to seal again.
func (b *Box) CurrentPrefix() []byte {
	return append([]byte{format2}, b.current.id[:]...)
}

// ParseKey decodes a base64 (standard or URL alphabet, padded or not)
// encoding of exactly 32 bytes.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err := enc.DecodeString(s); err == nil {
			if len(key) != KeySize {
				return nil, fmt.Errorf("must decode to %d bytes, got %d", KeySize, len(key))
			}
			return key, nil
		}
	}
	return nil, errors.New("must be base64 of 32 bytes")
}

// NewKey returns a fresh random key.
func NewKey() []byte {
	key := make([]byte, KeySize)
	_, _ = rand.Read(key) // never fails (crypto/rand panics instead)
	return key
}

// Seal encrypts plaintext with the current key. The associated data binds
// the result to a record (for example the agent id): Open with other
// associated data fails, so a sealed value copied onto another row cannot
// be read there.
func (b *Box) Seal(plaintext, associated []byte) []byte {
	k := b.current
	nonce := make([]byte, k.aead.NonceSize())
	_, _ = rand.Read(nonce)
	out := make([]byte, 0, 1+KeyIDSize+len(nonce)+len(plaintext)+k.aead.Overhead())
	out = append(out, format2)
	out = append(out, k.id[:]...)
	out = append(out, nonce...)
	return k.aead.Seal(out, nonce, plaintext, associated)
}

// Open decrypts a value made by Seal with the same associated data, with
// whichever configured key sealed it. A value that names a key the Box
// does not have says so (and its id) in the error, which is ErrOpen.
func (b *Box) Open(sealed, associated []byte) ([]byte, error) {
	if len(sealed) == 0 {
		return nil, ErrOpen
	}
	switch sealed[0] {
	case format1:
		// No key id: try each key (a few at most), current first.
		for _, k := range b.keys {
			if plain, ok := k.open(sealed[1:], associated); ok {
				return plain, nil
			}
		}
		return nil, ErrOpen
	case format2:
		if len(sealed) < 1+KeyIDSize {
			return nil, ErrOpen
		}
		id := [KeyIDSize]byte(sealed[1 : 1+KeyIDSize])
		i := slices.IndexFunc(b.keys, func(k keyed) bool { return k.id == id })
		if i < 0 {
			return nil, fmt.Errorf("%w: sealed with key %x, which is neither the current key nor a previous one", ErrOpen, id)
		}
		if plain, ok := b.keys[i].open(sealed[1+KeyIDSize:], associated); ok {
			return plain, nil
		}
		return nil, ErrOpen
	}
	return nil, ErrOpen
}

// open decrypts nonce||ciphertext.
func (k keyed) open(body, associated []byte) ([]byte, bool) {
	ns := k.aead.NonceSize()
	if len(body) < ns+k.aead.Overhead() {
		return nil, false
	}
	plain, err := k.aead.Open(nil, body[:ns], body[ns:], associated)
	return plain, err == nil
}

// Redact shows a secret as "****" followed by its last four characters, or
// as "****" alone when it is shorter than 12 characters (four characters of a
// short secret would give too much of it away).
func Redact(s string) string {
	r := []rune(s)
	if len(r) < 12 {
		return "****"
	}
	return "****" + string(r[len(r)-4:])
}
