package oidcauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// maxJWKSBytes bounds a key set response.
const maxJWKSBytes = 1 << 20

// keySet is an oidc.KeySet over a JWKS URL. Unlike go-oidc's RemoteKeySet,
// which fetches the JWKS again for every token with an unknown key id, it
// fetches at most once per interval, so a flood of tokens naming random
// keys costs one fetch per interval. Concurrent refreshes are coalesced.
// Each fetch replaces the cached keys, so keys the issuer dropped stop
// verifying at the next refresh.
type keySet struct {
	url      string
	client   *http.Client
	algs     []jose.SignatureAlgorithm
	interval time.Duration

	mu       sync.Mutex
	keys     []jose.JSONWebKey
	lastTry  time.Time     // start of the latest fetch; zero before the first
	lastErr  error         // the latest fetch's error
	inflight chan struct{} // closed when the running fetch ends; nil when none runs
}

func newKeySet(url string, client *http.Client, algs []string, interval time.Duration) *keySet {
	ks := &keySet{url: url, client: client, interval: interval}
	for _, a := range algs {
		ks.algs = append(ks.algs, jose.SignatureAlgorithm(a))
	}
	return ks
}

// sigErrKey carries a *error through go-oidc, which formats a key set's
// error with %v and so loses ErrUnavailable; VerifySignature stores its
// error there for Verify to classify.
type sigErrKey struct{}

// VerifySignature implements oidc.KeySet: it parses jwt allowing only the
// configured algorithms and returns its payload if a key verifies it.
func (ks *keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	payload, err := ks.verify(ctx, jwt)
	if slot, ok := ctx.Value(sigErrKey{}).(*error); ok && err != nil {
		*slot = err
	}
	return payload, err
}

func (ks *keySet) verify(ctx context.Context, jwt string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(jwt, ks.algs)
	if err != nil {
		return nil, fmt.Errorf("%w: malformed or disallowed algorithm", ErrInvalidToken)
	}
	if len(jws.Signatures) != 1 {
		return nil, fmt.Errorf("%w: want one signature", ErrInvalidToken)
	}
	ks.mu.Lock()
	cached := ks.keys
	ks.mu.Unlock()
	if payload, ok := verifyWith(jws, cached); ok {
		return payload, nil
	}
	keys, fetched, fetchErr := ks.refresh(ctx)
	if fetched {
		if payload, ok := verifyWith(jws, keys); ok {
			return payload, nil
		}
	}
	if fetchErr != nil {
		// The key may be one we could not fetch: not the token's fault.
		return nil, fmt.Errorf("%w: key set: %w", ErrUnavailable, fetchErr)
	}
	return nil, fmt.Errorf("%w: no key verifies the signature", ErrInvalidToken)
}

// verifyWith tries the keys with the token's key id (every key when the
// token names none).
func verifyWith(jws *jose.JSONWebSignature, keys []jose.JSONWebKey) ([]byte, bool) {
	h := jws.Signatures[0].Header
	for i := range keys {
		k := &keys[i]
		if h.KeyID != "" && k.KeyID != h.KeyID {
			continue
		}
		if k.Algorithm != "" && k.Algorithm != h.Algorithm {
			continue
		}
		if payload, err := jws.Verify(k); err == nil {
			return payload, true
		}
	}
	return nil, false
}

// refresh fetches the key set unless one was fetched less than an interval
// ago, and returns the keys, whether a fetch ended since the call began
// (only then are the keys worth another try), and the latest fetch's error.
// Callers arriving while a fetch runs wait for it instead of starting
// another.
func (ks *keySet) refresh(ctx context.Context) (keys []jose.JSONWebKey, fetched bool, err error) {
	ks.mu.Lock()
	if wait := ks.inflight; wait != nil {
		ks.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
		ks.mu.Lock()
		defer ks.mu.Unlock()
		return ks.keys, true, ks.lastErr
	}
	if !ks.lastTry.IsZero() && time.Since(ks.lastTry) < ks.interval {
		defer ks.mu.Unlock()
		return ks.keys, false, ks.lastErr
	}
	done := make(chan struct{})
	ks.inflight, ks.lastTry = done, time.Now()
	ks.mu.Unlock()

	// The fetch serves every waiter, so the caller's cancellation must not
	// end it (nor count as the issuer failing); the client's timeout and
	// this one bound it.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), httpTimeout)
	defer cancel()
	keys, err = ks.fetch(fctx)

	ks.mu.Lock()
	defer ks.mu.Unlock()
	if err == nil {
		ks.keys = keys
	}
	ks.lastErr = err
	ks.inflight = nil
	close(done)
	return ks.keys, true, err
}

func (ks *keySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ks.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := ks.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ks.url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get %s: %s", ks.url, resp.Status)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("get %s: over %d bytes", ks.url, maxJWKSBytes)
	}
	return parseJWKS(body)
}

// parseJWKS reads the public signing keys of a JWKS. As RFC 7517 asks, it
// skips keys it cannot use (unknown types or curves, encryption keys,
// symmetric keys) rather than failing the whole set.
func parseJWKS(body []byte) ([]jose.JSONWebKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("decode key set: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, raw := range set.Keys {
		var k jose.JSONWebKey
		if err := json.Unmarshal(raw, &k); err != nil || !k.Valid() || !k.IsPublic() || k.Use == "enc" {
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 && len(set.Keys) > 0 {
		return nil, errors.New("key set has no usable public signing key")
	}
	return keys, nil
}
