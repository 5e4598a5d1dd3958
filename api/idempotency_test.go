package api

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/claimable/eventrouter/subscriptions"
)

// idemHarness is a harness whose API keeps idempotency records in miniredis, sealed with
// a subscription store's key ring.
func idemHarness(t *testing.T) (*harness, *miniredis.Miniredis) {
	t.Helper()
	mr := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	ring, err := subscriptions.NewRedisStore(c, subscriptions.RedisOptions{Prefix: "er:", EncryptionKeys: [][]byte{bytes.Repeat([]byte{5}, 32)}})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(_ *Config, d *Deps) {
		d.Idempotency = NewRedisIdempotency(c, RedisIdempotencyConfig{Prefix: "er:", Sealer: ring.Sealer()})
	})
	return h, mr
}

const createBody = `{"url":"https://hooks.example.com/x","events":["claim.created"],"headers":{"Authorization":"Bearer idem-s3cr3t"}}`

func TestIdempotentCreateReplaysTheSameResponse(t *testing.T) {
	h, mr := idemHarness(t)
	key := map[string]string{"Idempotency-Key": "order-42"}
	first := h.doWith("POST", "/v1/subscriptions", acmeToken, createBody, key)
	if first.Code != http.StatusCreated || first.Header().Get(replayedHeader) != "" {
		t.Fatalf("first: %d replayed=%q %s", first.Code, first.Header().Get(replayedHeader), first.Body.String())
	}
	again := h.doWith("POST", "/v1/subscriptions", acmeToken, createBody, key)
	if again.Code != http.StatusCreated || again.Header().Get(replayedHeader) != "true" {
		t.Fatalf("retry: %d replayed=%q", again.Code, again.Header().Get(replayedHeader))
	}
	if again.Body.String() != first.Body.String() {
		t.Fatalf("replayed body differs:\n%s\n%s", again.Body.String(), first.Body.String())
	}
	for _, name := range []string{"Location", "ETag", "Cache-Control", "Content-Type"} {
		if again.Header().Get(name) != first.Header().Get(name) {
			t.Errorf("replayed %s %q, first %q", name, again.Header().Get(name), first.Header().Get(name))
		}
	}
	if subs, _, _ := h.store.List(t.Context(), subscriptions.ListOptions{AccountID: "acct_acme"}); len(subs) != 1 {
		t.Fatalf("%d subscriptions after a retried create, want 1", len(subs))
	}

	// Kept 24 h, and never in plain text: the body holds the secret and header values.
	keys := mr.Keys()
	if len(keys) != 1 || !strings.HasPrefix(keys[0], "er:idem:") {
		t.Fatalf("redis keys %v", keys)
	}
	if ttl := mr.TTL(keys[0]); ttl < 23*time.Hour || ttl > 24*time.Hour {
		t.Fatalf("record TTL %v, want 24h", ttl)
	}
	c := decode[created](t, first)
	if raw := mr.HGet(keys[0], "resp"); strings.Contains(raw, "idem-s3cr3t") || strings.Contains(raw, strings.TrimPrefix(c.Secret, "whsec_")) {
		t.Fatal("the stored response holds the secret or a header value in plain text")
	}

	// The same key from another account is another key.
	other := h.doWith("POST", "/v1/subscriptions", otherToken, createBody, key)
	if other.Code != http.StatusCreated || other.Header().Get(replayedHeader) != "" || decode[created](t, other).ID == c.ID {
		t.Fatalf("another account's request with the same key: %d replayed=%q", other.Code, other.Header().Get(replayedHeader))
	}
}

func TestIdempotencyKeyWithADifferentBodyIs422(t *testing.T) {
	h, _ := idemHarness(t)
	key := map[string]string{"Idempotency-Key": "k1"}
	if rec := h.doWith("POST", "/v1/subscriptions", acmeToken, createBody, key); rec.Code != http.StatusCreated {
		t.Fatalf("first: %d", rec.Code)
	}
	p := problem(t, h.doWith("POST", "/v1/subscriptions", acmeToken, strings.Replace(createBody, "/x", "/y", 1), key), http.StatusUnprocessableEntity)
	if !strings.HasSuffix(p.Type, "#idempotency-key-reused") {
		t.Fatalf("type %q", p.Type)
	}
	// The same key on another subscription's rotation is another request too.
	a, b := h.create(acmeToken, ""), h.create(acmeToken, "")
	rk := map[string]string{"Idempotency-Key": "rotate-1"}
	if rec := h.doWith("POST", "/v1/subscriptions/"+a.ID+"/secret/rotate", acmeToken, "", rk); rec.Code != http.StatusOK {
		t.Fatalf("rotate a: %d", rec.Code)
	}
	problem(t, h.doWith("POST", "/v1/subscriptions/"+b.ID+"/secret/rotate", acmeToken, "", rk), http.StatusUnprocessableEntity)
	if s := decode[secretsBody](t, h.do("GET", "/v1/subscriptions/"+b.ID+"/secret", acmeToken, "")); s.Current.Value != b.Secret {
		t.Fatal("the refused rotation of b happened")
	}
}

func TestIdempotentRotationRunsOnce(t *testing.T) {
	h, _ := idemHarness(t)
	sub := h.create(acmeToken, "")
	key := map[string]string{"Idempotency-Key": "rot"}
	path := "/v1/subscriptions/" + sub.ID + "/secret/rotate"
	first := h.doWith("POST", path, acmeToken, `{"grace":"1h"}`, key)
	again := h.doWith("POST", path, acmeToken, `{"grace":"1h"}`, key)
	if first.Code != 200 || again.Code != 200 || again.Body.String() != first.Body.String() || again.Header().Get(replayedHeader) != "true" {
		t.Fatalf("rotate twice with one key: %d %d replayed=%q", first.Code, again.Code, again.Header().Get(replayedHeader))
	}
	s := decode[secretsBody](t, h.do("GET", "/v1/subscriptions/"+sub.ID+"/secret", acmeToken, ""))
	if len(s.Previous) != 1 {
		t.Fatalf("%d previous secrets: the retried rotation ran again", len(s.Previous))
	}
}

func TestIdempotencyKeyInFlightIs409(t *testing.T) {
	h, _ := idemHarness(t)
	st := h.srv.deps.Idempotency
	// A request with this key is being served (claimed, not finished).
	scoped := digest("account:acct_acme", "POST /v1/subscriptions", "busy")
	if _, err := st.Begin(context.Background(), scoped, digest("/v1/subscriptions", "application/json", createBody)); err != nil {
		t.Fatal(err)
	}
	rec := h.doWith("POST", "/v1/subscriptions", acmeToken, createBody, map[string]string{"Idempotency-Key": "busy"})
	p := problem(t, rec, http.StatusConflict)
	if !strings.HasSuffix(p.Type, "#idempotency-key-in-flight") || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("in flight: %+v Retry-After %q", p, rec.Header().Get("Retry-After"))
	}
	if subs, _, _ := h.store.List(t.Context(), subscriptions.ListOptions{}); len(subs) != 0 {
		t.Fatal("a request whose key was in flight ran")
	}
}

func TestIdempotencyServerErrorsAreNotKept(t *testing.T) {
	h, _ := idemHarness(t)
	key := map[string]string{"Idempotency-Key": "retry-me"}
	h.store.failWith = subscriptions.ErrUnavailable
	problem(t, h.doWith("POST", "/v1/subscriptions", acmeToken, createBody, key), http.StatusServiceUnavailable)
	h.store.failWith = nil
	if rec := h.doWith("POST", "/v1/subscriptions", acmeToken, createBody, key); rec.Code != http.StatusCreated || rec.Header().Get(replayedHeader) != "" {
		t.Fatalf("retry after a 503: %d replayed=%q, want a fresh 201", rec.Code, rec.Header().Get(replayedHeader))
	}
}

func TestIdempotencyKeyValidatedAndNeedsAStore(t *testing.T) {
	h, _ := idemHarness(t)
	p := problem(t, h.doWith("POST", "/v1/subscriptions", acmeToken, createBody, map[string]string{"Idempotency-Key": strings.Repeat("k", 256)}), http.StatusBadRequest)
	if fs := fields(p); len(fs) != 1 || fs[0] != "Idempotency-Key" {
		t.Fatalf("fields %v", fs)
	}
	plain := newHarness(t)
	problem(t, plain.doWith("POST", "/v1/subscriptions", acmeToken, createBody, map[string]string{"Idempotency-Key": "k"}), http.StatusNotImplemented)
}
