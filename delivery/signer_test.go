package delivery

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// The Standard Webhooks test vector (identical across the spec's libraries).
const (
	vecSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vecID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vecTS     = 1614265330
	vecBody   = `{"test": 2432232314}`
	vecSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignSpecVector(t *testing.T) {
	got, err := Sign([]string{vecSecret}, vecID, time.Unix(vecTS, 0), []byte(vecBody))
	if err != nil {
		t.Fatal(err)
	}
	if got != vecSig {
		t.Fatalf("Sign = %q, want %q", got, vecSig)
	}
}

// specVerify is an independent verifier written from the spec, not from Sign: it accepts
// the header when any "v1,<sig>" entry matches HMAC-SHA256(key, id.ts.body).
func specVerify(secret, header, id string, ts int64, body []byte) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.%s", id, ts, body)
	want := mac.Sum(nil)
	for _, entry := range strings.Fields(header) {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

func TestSignRotatedSecretsVerifyWithEither(t *testing.T) {
	current := newTestSecret(1)
	previous := newTestSecret(2)
	other := newTestSecret(3)
	now := time.Now()
	body := []byte(`{"event_name":"claim.created","claim":{"id":"c1"}}`)
	header, err := Sign([]string{current, previous}, "dlv_1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Fields(header)); n != 2 {
		t.Fatalf("header has %d signatures, want 2: %q", n, header)
	}
	for _, s := range []string{current, previous} {
		if !specVerify(s, header, "dlv_1", now.Unix(), body) {
			t.Errorf("spec verifier rejects a signature by a valid secret")
		}
	}
	if specVerify(other, header, "dlv_1", now.Unix(), body) {
		t.Fatal("spec verifier accepts an unrelated secret")
	}
	if specVerify(current, header, "dlv_1", now.Unix(), append(body, ' ')) {
		t.Fatal("spec verifier accepts a modified body")
	}

	// The official library must accept the request with either secret.
	h := http.Header{}
	h.Set(standardwebhooks.HeaderWebhookID, "dlv_1")
	h.Set(standardwebhooks.HeaderWebhookTimestamp, fmt.Sprint(now.Unix()))
	h.Set(standardwebhooks.HeaderWebhookSignature, header)
	for _, s := range []string{current, previous} {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.Verify(body, h); err != nil {
			t.Errorf("official verifier: %v", err)
		}
	}
	wh, _ := standardwebhooks.NewWebhook(other)
	if err := wh.Verify(body, h); err == nil {
		t.Fatal("official verifier accepts an unrelated secret")
	}
}

func TestSignBadSecretNamedNotPrinted(t *testing.T) {
	for name, bad := range map[string]string{
		"no prefix":  "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		"not base64": "whsec_%%%%not-base64-at-all%%%%",
		"empty key":  "whsec_",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Sign([]string{vecSecret, bad}, vecID, time.Unix(vecTS, 0), []byte(vecBody))
			var se *SecretError
			if !errors.As(err, &se) || se.Index != 1 {
				t.Fatalf("err = %v, want *SecretError for index 1", err)
			}
			if strings.Contains(err.Error(), strings.TrimPrefix(bad, "whsec_")) && bad != "whsec_" {
				t.Fatalf("error leaks the secret: %v", err)
			}
		})
	}
	if _, err := Sign(nil, vecID, time.Unix(vecTS, 0), nil); !errors.Is(err, ErrNoSecret) {
		t.Fatalf("no secrets: err = %v, want ErrNoSecret", err)
	}
}

func FuzzSign(f *testing.F) {
	f.Add(vecSecret, vecID, int64(vecTS), []byte(vecBody))
	f.Add("whsec_", "", int64(0), []byte{})
	f.Add("whsec_AAAA", "id with spaces", int64(-1), []byte{0xff, 0xfe})
	f.Fuzz(func(t *testing.T, secret, id string, ts int64, body []byte) {
		sig, err := Sign([]string{secret}, id, time.Unix(ts, 0), body)
		if err != nil {
			var se *SecretError
			if !errors.As(err, &se) {
				t.Fatalf("error is not a *SecretError: %v", err)
			}
			return
		}
		key, _ := decodeSecret(secret)
		std := "whsec_" + base64.StdEncoding.EncodeToString(key)
		if !specVerify(std, sig, id, ts, body) {
			t.Fatalf("signature %q does not verify", sig)
		}
	})
}

// newTestSecret returns a deterministic valid secret.
func newTestSecret(seed byte) string {
	b := make([]byte, 32)
	for i := range b {
		b[i] = seed + byte(i)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// Signers share one cached HMAC per secret; concurrent attempts with the same secret must
// each get a correct signature (run with -race to check the sharing).
func TestSignConcurrentlyWithOneSecret(t *testing.T) {
	secret := newTestSecret(7)
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				id := fmt.Sprintf("msg_%d_%d", g, i)
				body := []byte(fmt.Sprintf(`{"n":%d}`, i))
				sig, err := Sign([]string{secret}, id, time.Unix(vecTS, 0), body)
				if err != nil || !specVerify(secret, sig, id, vecTS, body) {
					errs <- fmt.Sprintf("goroutine %d attempt %d: %q, %v", g, i, sig, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// The key cache is bounded: once full it starts over, and a secret signed before still
// signs correctly afterwards; an invalid secret is reported and never cached.
func TestKeyCacheIsBoundedAndKeepsSigningRight(t *testing.T) {
	c := keyCache{max: 4}
	first := newTestSecret(1)
	k1, err := c.get(first)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := c.get(first); again != k1 {
		t.Fatal("the same secret twice: want the cached key, got a new one")
	}
	for i := byte(2); i <= 10; i++ {
		if _, err := c.get(newTestSecret(i)); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.n.Load(); got > c.max {
		t.Fatalf("cache holds %d secrets, bound is %d", got, c.max)
	}
	entries := 0
	c.m.Range(func(_, _ any) bool { entries++; return true })
	if entries > int(c.max) {
		t.Fatalf("cache map has %d entries, bound is %d", entries, c.max)
	}
	if _, err := c.get("whsec_%%%"); err == nil {
		t.Fatal("invalid secret: want an error")
	}
	if _, ok := c.m.Load("whsec_%%%"); ok {
		t.Fatal("invalid secret was cached")
	}
	// After the cache started over, the first secret still signs as the spec says.
	sig, err := Sign([]string{first}, vecID, time.Unix(vecTS, 0), []byte(vecBody))
	if err != nil || !specVerify(first, sig, vecID, vecTS, []byte(vecBody)) {
		t.Fatalf("after eviction: %q, %v", sig, err)
	}
}
