package delivery

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
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
	prefix := msgID + "." + strconv.FormatInt(ts.Unix(), 10) + "."
	var b strings.Builder
	b.Grow(len(secrets) * 48)
	for i, s := range secrets {
		key, err := decodeSecret(s)
		if err != nil {
			return "", &SecretError{Index: i, Reason: err.Error()}
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(prefix))
		mac.Write(body)
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("v1,")
		b.WriteString(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return b.String(), nil
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
