package subscriptions

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// ErrSecretKey: a stored secret or header cannot be decrypted with the configured keys
// (a key missing from the ring, no key, or tampered data). The value itself is never part
// of the message.
var ErrSecretKey = errors.New("subscriptions: cannot decrypt stored secret")

// sealedPrefix starts an encrypted value at rest:
// "enc:v1:<key id>:<base64 nonce||ciphertext>". The key id (first 8 hex digits of the
// key's SHA-256) says which key of the ring opens it, so reads never try keys in turn.
const sealedPrefix = "enc:v1:"

// sealKey is one AES-256-GCM key and its id.
type sealKey struct {
	aead cipher.AEAD
	id   string
}

// sealer encrypts with the newest key of a ring and decrypts with whichever key a value
// names: AES-256-GCM, a random nonce each time, and associated data binding the value
// to where it is stored (the subscription id, plus the header name for headers), so a
// ciphertext cannot be moved to another subscription or header.
type sealer struct {
	keys []sealKey // newest first; keys[0] seals
}

// newSealer builds a ring from keys, newest first (each 32 bytes, no duplicates).
func newSealer(keys ...[]byte) (*sealer, error) {
	s := &sealer{}
	seen := map[string]bool{}
	for i, key := range keys {
		if len(key) != 32 {
			return nil, fmt.Errorf("subscriptions: encryption key %d is %d bytes, want 32", i, len(key))
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(key)
		id := hex.EncodeToString(sum[:4])
		if seen[id] {
			return nil, fmt.Errorf("subscriptions: encryption key %d repeats an earlier key", i)
		}
		seen[id] = true
		s.keys = append(s.keys, sealKey{aead: aead, id: id})
	}
	if len(s.keys) == 0 {
		return nil, errors.New("subscriptions: an encryption key ring needs at least one key")
	}
	return s, nil
}

func (s *sealer) seal(aad, plain string) string {
	k := s.keys[0]
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plain)+k.aead.Overhead())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails on supported platforms
	out := k.aead.Seal(nonce, nonce, []byte(plain), []byte(aad))
	return sealedPrefix + k.id + ":" + base64.RawStdEncoding.EncodeToString(out)
}

// current reports whether stored is sealed with the newest key (false for plain text).
func (s *sealer) current(stored string) bool {
	rest, ok := strings.CutPrefix(stored, sealedPrefix)
	return ok && s != nil && strings.HasPrefix(rest, s.keys[0].id+":")
}

// open returns the plain value. Values stored before a key was configured are plain
// text and returned as they are; s may be nil (no key configured). subID names the
// subscription in errors; aad must be what seal was given.
func (s *sealer) open(subID, aad, stored string) (string, error) {
	rest, ok := strings.CutPrefix(stored, sealedPrefix)
	if !ok {
		return stored, nil
	}
	if s == nil {
		return "", fmt.Errorf("%w: subscription %s: encrypted at rest but no key configured", ErrSecretKey, subID)
	}
	keyID, data, ok := strings.Cut(rest, ":")
	var k *sealKey
	for i := range s.keys {
		if ok && s.keys[i].id == keyID {
			k = &s.keys[i]
		}
	}
	if k == nil {
		return "", fmt.Errorf("%w: subscription %s: sealed with key %q, which is not in the configured ring %v", ErrSecretKey, subID, keyID, s.ids())
	}
	raw, err := base64.RawStdEncoding.DecodeString(data)
	if err != nil || len(raw) < k.aead.NonceSize() {
		return "", fmt.Errorf("%w: subscription %s: malformed ciphertext", ErrSecretKey, subID)
	}
	n := k.aead.NonceSize()
	plain, err := k.aead.Open(nil, raw[:n], raw[n:], []byte(aad))
	if err != nil {
		return "", fmt.Errorf("%w: subscription %s: authentication failed", ErrSecretKey, subID)
	}
	return string(plain), nil
}

// ids lists the ring's key ids, newest first (they identify keys, revealing nothing).
func (s *sealer) ids() []string {
	out := make([]string, len(s.keys))
	for i, k := range s.keys {
		out[i] = k.id
	}
	return out
}

// Sealer encrypts other values kept beside the subscriptions (e.g. the API's stored
// responses to idempotent requests, which can hold a secret) with the store's key ring.
// Without a ring it passes values through in plain text, like the store does.
type Sealer struct{ s *sealer }

// Sealer returns the store's Sealer.
func (s *RedisStore) Sealer() *Sealer { return &Sealer{s: s.sealer} }

// Seal encrypts plain with the newest key, bound to aad; plain text without a ring.
func (x *Sealer) Seal(aad, plain string) string {
	if x == nil || x.s == nil {
		return plain
	}
	return x.s.seal(aad, plain)
}

// Open reverses Seal (aad must match); ErrSecretKey when it cannot.
func (x *Sealer) Open(aad, stored string) (string, error) {
	var s *sealer
	if x != nil {
		s = x.s
	}
	return s.open("(sealed value)", aad, stored)
}
