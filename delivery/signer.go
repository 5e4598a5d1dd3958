package delivery

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// secretPrefix starts every Standard Webhooks signing secret.
const secretPrefix = "whsec_"

// ErrNoSecret means a delivery cannot be signed because its subscription has no valid
// signing secret. Sending it unsigned would teach receivers to skip verification.
var ErrNoSecret = errors.New("delivery: no signing secret")

// SecretError says which of a subscription's secrets is malformed. It carries the
// secret's position, never its value, so it is safe to log.
type SecretError struct {
	Index  int    // position in the secrets slice, 0 = current secret
	Reason string // what is wrong ("missing whsec_ prefix", "not base64", "empty key")
}

func (e *SecretError) Error() string {
	return fmt.Sprintf("delivery: signing secret #%d is invalid: %s", e.Index, e.Reason)
}

// Sign returns the Standard Webhooks webhook-signature header value for one attempt:
// one "v1,<base64 HMAC-SHA256>" per secret, space-separated, over
// "{msgID}.{ts unix seconds}.{body}". Each secret is "whsec_" + base64 of the key
// (standard or unpadded alphabet); the HMAC key is the decoded bytes.
//
// During rotation callers pass every still-valid secret (Subscription.ValidSecrets), so a
// receiver verifying with either the old or the new secret accepts the request. A
// malformed secret makes Sign fail with a *SecretError naming its index (never its value)
// rather than silently signing with fewer secrets; no secrets at all is ErrNoSecret.
// Sign is safe for concurrent use.
func Sign(secrets []string, msgID string, ts time.Time, body []byte) (string, error) {
	if len(secrets) == 0 {
		return "", ErrNoSecret
	}
	var prefixBuf [96]byte
	prefix := append(prefixBuf[:0], msgID...)
	prefix = append(prefix, '.')
	prefix = strconv.AppendInt(prefix, ts.Unix(), 10)
	prefix = append(prefix, '.')

	const entryLen = len("v1,") + 44 // base64 of 32 bytes
	var b strings.Builder
	b.Grow(len(secrets)*(entryLen+1) - 1)
	var sum [sha256.Size]byte
	var enc [44]byte
	for i, s := range secrets {
		k, err := signingKeys.get(s)
		if err != nil {
			return "", &SecretError{Index: i, Reason: err.Error()}
		}
		mac := k.take()
		mac.Write(prefix)
		mac.Write(body)
		mac.Sum(sum[:0])
		k.give(mac)
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("v1,")
		base64.StdEncoding.Encode(enc[:], sum[:])
		b.Write(enc[:])
	}
	return b.String(), nil
}

// signingKeys keeps, per secret, its decoded key and one HMAC ready to reuse. An
// attempt would otherwise decode the secret and build a new HMAC (two SHA-256 states
// keyed by hashing the padded key, five allocations) for every signature, a fifth of
// the sender's own CPU per attempt outside the HTTP round trip on small bodies.
var signingKeys = keyCache{max: 8192}

// keyCache maps a secret to its *signingKey. It holds at most max secrets: when full
// it starts over, so a secret no longer used (rotated out, subscription deleted) is
// dropped within max new secrets, and a sender signing for more subscriptions than max
// falls back to building HMACs as if there were no cache. Invalid secrets are never
// stored.
type keyCache struct {
	max int64
	n   atomic.Int64
	m   sync.Map // secret string -> *signingKey
}

func (c *keyCache) get(secret string) (*signingKey, error) {
	if k, ok := c.m.Load(secret); ok {
		return k.(*signingKey), nil
	}
	key, err := decodeSecret(secret)
	if err != nil {
		return nil, err
	}
	if c.n.Add(1) > c.max {
		c.m.Clear()
		c.n.Store(1)
	}
	k, _ := c.m.LoadOrStore(secret, &signingKey{key: key})
	return k.(*signingKey), nil
}

// signingKey is one decoded key and at most one idle HMAC keyed with it. Concurrent
// signers with the same key each take their own: the one that finds the slot empty
// builds a new HMAC, and whichever gives back first refills the slot.
type signingKey struct {
	key  []byte
	idle atomic.Pointer[keyedMAC]
}

type keyedMAC struct{ hash.Hash }

func (k *signingKey) take() *keyedMAC {
	if m := k.idle.Swap(nil); m != nil {
		return m
	}
	return &keyedMAC{hmac.New(sha256.New, k.key)}
}

func (k *signingKey) give(m *keyedMAC) {
	m.Reset() // back to the keyed initial state; cheap after the first Reset
	k.idle.CompareAndSwap(nil, m)
}

// decodeSecret returns the HMAC key of a "whsec_" secret. Its errors never contain the
// secret.
func decodeSecret(s string) ([]byte, error) {
	raw, ok := strings.CutPrefix(s, secretPrefix)
	if !ok {
		return nil, errors.New("missing whsec_ prefix")
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(raw)
	}
	if err != nil {
		return nil, errors.New("not base64")
	}
	if len(key) == 0 {
		return nil, errors.New("empty key")
	}
	return key, nil
}
