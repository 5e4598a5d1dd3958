package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/claimable/eventrouter/replay"
)

// fakeReplays records started specs and serves jobs from memory.
type fakeReplays struct {
	mu    sync.Mutex
	specs []replay.Spec
	jobs  map[string]*replay.Job
}

func (f *fakeReplays) Start(_ context.Context, spec replay.Spec) (*replay.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j := &replay.Job{ID: fmt.Sprintf("rpl_job%d", len(f.specs)), Spec: spec, State: replay.StatePending,
		Counts: map[string]map[string]int64{"sub_1": {"claim.created": 3}}}
	f.specs = append(f.specs, spec)
	f.jobs[j.ID] = j
	return j, nil
}

func (f *fakeReplays) Get(_ context.Context, id string) (*replay.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if j, ok := f.jobs[id]; ok {
		return j, nil
	}
	return nil, fmt.Errorf("job %s: %w", id, replay.ErrJobNotFound)
}

func replayHarness(t *testing.T) (*harness, *fakeReplays) {
	f := &fakeReplays{jobs: map[string]*replay.Job{}}
	return newHarness(t, func(_ *Config, d *Deps) { d.Replays = f }), f
}

const window = `"from":"2026-11-30T10:00:00Z","to":"2026-11-30T11:00:00Z"`

func TestReplayStartsAJob(t *testing.T) {
	h, f := replayHarness(t)
	rec := h.do("POST", "/v1/replays", adminToken, `{`+window+`,"events":["claim.*"],"dry_run":true}`)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	got := decode[struct {
		ID     string                      `json:"id"`
		State  string                      `json:"state"`
		Counts map[string]map[string]int64 `json:"counts"`
	}](t, rec)
	if got.ID == "" || rec.Header().Get("Location") != "/v1/replays/"+got.ID || got.State != replay.StatePending {
		t.Fatalf("response %+v, Location %q", got, rec.Header().Get("Location"))
	}
	if len(f.specs) != 1 || !f.specs[0].DryRun || f.specs[0].AccountID != "" || !slices.Equal(f.specs[0].Events, []string{"claim.*"}) ||
		f.specs[0].From.Hour() != 10 || f.specs[0].To.Hour() != 11 {
		t.Fatalf("started %+v", f.specs)
	}
	rec = h.do("GET", "/v1/replays/"+got.ID, adminToken, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if st := decode[struct {
		Counts map[string]map[string]int64 `json:"counts"`
	}](t, rec); st.Counts["sub_1"]["claim.created"] != 3 {
		t.Fatalf("status %s", rec.Body)
	}
	problem(t, h.do("GET", "/v1/replays/rpl_nope", adminToken, ""), http.StatusNotFound)
}

func TestReplayAccountTokenOnlyItsAccount(t *testing.T) {
	h, f := replayHarness(t)
	rec := h.do("POST", "/v1/replays", acmeToken, `{`+window+`}`)
	if rec.Code != http.StatusAccepted || f.specs[0].AccountID != "acct_acme" {
		t.Fatalf("status %d %s, spec %+v: an account token's replay must be scoped to its account", rec.Code, rec.Body, f.specs)
	}
	id := decode[struct {
		ID string `json:"id"`
	}](t, rec).ID
	problem(t, h.do("GET", "/v1/replays/"+id, otherToken, ""), http.StatusNotFound)
	if rec := h.do("GET", "/v1/replays/"+id, acmeToken, ""); rec.Code != http.StatusOK {
		t.Fatalf("own job: %d", rec.Code)
	}
	problem(t, h.do("POST", "/v1/replays", acmeToken, `{`+window+`,"account_id":"acct_other"}`), http.StatusForbidden)
	other := h.create(otherToken, "")
	problem(t, h.do("POST", "/v1/replays", acmeToken, `{`+window+`,"subscription_id":"`+other.ID+`"}`), http.StatusNotFound)
	if len(f.specs) != 1 {
		t.Fatalf("refused requests started jobs: %+v", f.specs)
	}
}

func TestReplayRejectsBadRequests(t *testing.T) {
	h, f := replayHarness(t)
	for body, field := range map[string]string{
		`{"from":"yesterday","to":"2026-11-30T11:00:00Z"}`:            "from",
		`{"to":"2026-11-30T11:00:00Z"}`:                               "from",
		`{"from":"2026-11-30T11:00:00Z","to":"2026-11-30T10:00:00Z"}`: "to",
		`{` + window + `,"events":["claims.*"]}`:                      "events[0]",
	} {
		p := problem(t, h.do("POST", "/v1/replays", adminToken, body), http.StatusUnprocessableEntity)
		if !slices.Contains(fields(p), field) {
			t.Errorf("%s: fields %v, want %s", body, fields(p), field)
		}
	}
	problem(t, h.do("POST", "/v1/replays", adminToken, `{`+window+`,"subscription_id":"sub_missing"}`), http.StatusNotFound)
	if len(f.specs) != 0 {
		t.Fatalf("bad requests started jobs: %+v", f.specs)
	}
}
