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

// ErrSecretKey: a stored secret cannot be decrypted with the configured key (wrong key,
// no key, or tampered data). The secret itself is never part of the message.
var ErrSecretKey = errors.New("subscriptions: cannot decrypt stored secret")

// sealedPrefix starts an encrypted secret at rest:
// "enc:v1:<key id>:<base64 nonce||ciphertext>". The key id (first 8 hex digits of the
// key's SHA-256) lets a later version hold several keys and rotate them.
const sealedPrefix = "enc:v1:"

// sealer encrypts secrets with AES-256-GCM, a random nonce each time, and the
// subscription id as associated data (a ciphertext cannot be moved to another
// subscription).
type sealer struct {
	aead  cipher.AEAD
	keyID string
}

func newSealer(key []byte) (*sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("subscriptions: encryption key is %d bytes, want 32", len(key))
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
	return &sealer{aead: aead, keyID: hex.EncodeToString(sum[:4])}, nil
}

func (s *sealer) seal(subID, secret string) string {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(secret)+s.aead.Overhead())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails on supported platforms
	out := s.aead.Seal(nonce, nonce, []byte(secret), []byte(subID))
	return sealedPrefix + s.keyID + ":" + base64.RawStdEncoding.EncodeToString(out)
}

// open returns the plain secret. Values stored before a key was configured are plain
// text and returned as they are; s may be nil (no key configured).
func (s *sealer) open(subID, stored string) (string, error) {
	rest, ok := strings.CutPrefix(stored, sealedPrefix)
	if !ok {
		return stored, nil
	}
	if s == nil {
		return "", fmt.Errorf("%w: subscription %s: encrypted at rest but no key configured", ErrSecretKey, subID)
	}
	keyID, data, ok := strings.Cut(rest, ":")
	if !ok || keyID != s.keyID {
		return "", fmt.Errorf("%w: subscription %s: sealed with key %q, configured key is %q", ErrSecretKey, subID, keyID, s.keyID)
	}
	raw, err := base64.RawStdEncoding.DecodeString(data)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return "", fmt.Errorf("%w: subscription %s: malformed ciphertext", ErrSecretKey, subID)
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(subID))
	if err != nil {
		return "", fmt.Errorf("%w: subscription %s: authentication failed", ErrSecretKey, subID)
	}
	return string(plain), nil
}
