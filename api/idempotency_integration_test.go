//go:build integration

package api

import (
	"net/http"
	"sync"
	"testing"

	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/subscriptions"
)

// Concurrent duplicates on real Redis: of 12 simultaneous creates with one key exactly
// one runs; the others are told it is in flight (409) or get its response replayed.
func TestIdempotentCreateConcurrentDuplicatesRealRedis(t *testing.T) {
	c, prefix := testenv.RedisDB(t)
	h := newHarness(t, func(_ *Config, d *Deps) {
		d.Idempotency = NewRedisIdempotency(c, RedisIdempotencyConfig{Prefix: prefix})
	})
	for round := range 5 {
		key := map[string]string{"Idempotency-Key": "dup-" + string(rune('a'+round))}
		const n = 12
		codes := make([]int, n)
		ids := make([]string, n)
		replayed := make([]bool, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				rec := h.doWith("POST", "/v1/subscriptions", acmeToken, createBody, key)
				codes[i], replayed[i] = rec.Code, rec.Header().Get(replayedHeader) == "true"
				if rec.Code == http.StatusCreated {
					ids[i] = decode[created](t, rec).ID
				}
			}()
		}
		close(start)
		wg.Wait()
		fresh, id := 0, ""
		for i := range n {
			switch {
			case codes[i] == http.StatusCreated && !replayed[i]:
				fresh++
				id = ids[i]
			case codes[i] == http.StatusCreated, codes[i] == http.StatusConflict:
			default:
				t.Fatalf("round %d: request %d answered %d", round, i, codes[i])
			}
		}
		if fresh != 1 {
			t.Fatalf("round %d: %d requests ran, want exactly 1 (codes %v)", round, fresh, codes)
		}
		for i := range n {
			if codes[i] == http.StatusCreated && ids[i] != id {
				t.Fatalf("round %d: a replay returned %s, the run created %s", round, ids[i], id)
			}
		}
		after := h.doWith("POST", "/v1/subscriptions", acmeToken, createBody, key)
		if after.Code != http.StatusCreated || after.Header().Get(replayedHeader) != "true" || decode[created](t, after).ID != id {
			t.Fatalf("round %d: a later retry: %d replayed=%q", round, after.Code, after.Header().Get(replayedHeader))
		}
	}
	if subs, _, _ := h.store.List(t.Context(), subscriptions.ListOptions{AccountID: "acct_acme"}); len(subs) != 5 {
		t.Fatalf("%d subscriptions after 5 rounds of duplicated creates, want 5", len(subs))
	}
}
