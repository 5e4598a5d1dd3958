package api

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/claimable/eventrouter/subscriptions"
)

type fakeRecoverer struct {
	mu    sync.Mutex
	calls []time.Time // since of each call
	done  chan struct{}
}

func (f *fakeRecoverer) Recover(_ context.Context, sub *subscriptions.Subscription, since time.Time) (RecoverReport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, since)
	if f.done != nil {
		f.done <- struct{}{}
	}
	return RecoverReport{SubscriptionID: sub.ID, Since: since, Scanned: 7, Redriven: 3}, nil
}

// Re-enabling a disabled subscription recovers its held deliveries from its
// disabled_at (minus the margin); POST .../recover repeats it, refuses a disabled
// subscription (409) and a malformed since (422 naming since).
func TestRecoverHeldDeliveries(t *testing.T) {
	rec := &fakeRecoverer{done: make(chan struct{}, 1)}
	h := newHarness(t, func(_ *Config, d *Deps) { d.Recoverer = rec })
	sub := h.create(adminToken, "acct_acme")
	path := "/v1/subscriptions/" + sub.ID

	problem(t, h.do("POST", path+"/recover", adminToken, ""), http.StatusUnprocessableEntity) // never disabled: since required

	off := h.do("PATCH", path, adminToken, `{"enabled":false}`)
	view := decode[struct {
		DisabledAt time.Time `json:"disabled_at"`
	}](t, off)
	if view.DisabledAt.IsZero() {
		t.Fatal("disabling did not set disabled_at")
	}
	problem(t, h.do("POST", path+"/recover", adminToken, ""), http.StatusConflict)

	if on := h.do("PATCH", path, adminToken, `{"enabled":true}`); on.Code != http.StatusOK {
		t.Fatalf("enable: %d", on.Code)
	}
	select {
	case <-rec.done:
	case <-time.After(10 * time.Second):
		t.Fatal("re-enabling started no recovery")
	}
	rec.mu.Lock()
	if want := view.DisabledAt.Add(-RecoverMargin); len(rec.calls) != 1 || !rec.calls[0].Equal(want) {
		t.Errorf("recovery since %v, want %v", rec.calls, want)
	}
	rec.mu.Unlock()

	ok := h.do("POST", path+"/recover?since=2h", adminToken, "")
	<-rec.done
	if ok.Code != http.StatusOK {
		t.Fatalf("recover: %d %s", ok.Code, ok.Body.String())
	}
	if r := decode[RecoverReport](t, ok); r.Redriven != 3 || time.Since(r.Since) < 2*time.Hour-time.Minute {
		t.Errorf("report %+v", r)
	}
	p := problem(t, h.do("POST", path+"/recover?since=yesterday", adminToken, ""), http.StatusUnprocessableEntity)
	if len(p.Errors) != 1 || p.Errors[0].Field != "since" {
		t.Errorf("errors %+v, want one naming since", p.Errors)
	}
}
