package replay

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/subscriptions"
)

var catalogue = []string{"claim.created", "claim.closed", "contact.created"}

func TestSpecValidateNamesTheField(t *testing.T) {
	from := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		spec  Spec
		field string
	}{
		{Spec{To: from}, "from"},
		{Spec{From: from}, "to"},
		{Spec{From: from, To: from}, "to"},
		{Spec{From: from, To: from.Add(time.Hour), Events: []string{"claim.*", "claims.*"}}, "events[1]"},
		{Spec{From: from, To: from.Add(time.Hour), Events: []string{"claim.deleted"}}, "events[0]"},
	} {
		var v *subscriptions.ValidationError
		if err := tc.spec.Validate(catalogue); !errors.As(err, &v) || v.Problems[0].Field != tc.field {
			t.Errorf("%+v: %v, want a problem naming %s", tc.spec, err, tc.field)
		}
	}
	if err := (Spec{From: from, To: from.Add(time.Hour), Events: []string{"claim.*", "*"}}).Validate(catalogue); err != nil {
		t.Fatal(err)
	}
}

func TestSpecFilters(t *testing.T) {
	s := Spec{AccountID: "acct_1", SubscriptionID: "sub_a", Events: []string{"claim.*"}}
	ev := func(acct, name string) *events.Event { return &events.Event{AccountID: acct, EventName: name} }
	if !s.selects(ev("acct_1", "claim.closed")) || s.selects(ev("acct_2", "claim.closed")) || s.selects(ev("acct_1", "contact.created")) {
		t.Fatal("account/event filter")
	}
	if !s.keeps(&subscriptions.Subscription{ID: "sub_a"}) || s.keeps(&subscriptions.Subscription{ID: "sub_b"}) {
		t.Fatal("subscription filter")
	}
	if all := (Spec{}); !all.selects(ev("x", "contact.created")) || !all.keeps(&subscriptions.Subscription{ID: "y"}) {
		t.Fatal("an empty spec must select everything")
	}
}

func TestParseTime(t *testing.T) {
	want := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	for _, s := range []string{"2026-11-30T10:00Z", "2026-11-30T10:00:00Z", "2026-11-30T11:00:00+01:00"} {
		if got, err := ParseTime(s); err != nil || !got.Equal(want) {
			t.Errorf("%s: %v %v", s, got, err)
		}
	}
	if _, err := ParseTime("yesterday"); err == nil {
		t.Fatal("yesterday parsed")
	}
}

func TestJobsStateAndLease(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	jobs := NewJobs(rdb, "er:", time.Hour)
	ctx := context.Background()
	j := &Job{ID: newJobID(), State: StateRunning, Partitions: []Partition{{Topic: "t", Start: 10, End: 20, Next: 15}},
		Skipped: map[string]int64{}, Counts: map[string]map[string]int64{}}
	j.count("sub_a", "claim.closed")
	if err := jobs.Save(ctx, j); err != nil {
		t.Fatal(err)
	}
	got, err := jobs.Get(ctx, j.ID)
	if err != nil || got.Counts["sub_a"]["claim.closed"] != 1 || got.Deliveries != 1 || got.Progress() != 0.5 ||
		!slices.Equal(got.Partitions, j.Partitions) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	if _, err := jobs.Get(ctx, "rpl_aaaaaaaaaaaaaaaa"); !errors.Is(err, ErrJobNotFound) {
		t.Fatalf("unknown job: %v", err)
	}
	if _, err := jobs.Get(ctx, "../../etc"); !errors.Is(err, ErrJobNotFound) {
		t.Fatalf("malformed id: %v", err)
	}
	if err := jobs.Acquire(ctx, j.ID, "a", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := jobs.Acquire(ctx, j.ID, "b", time.Minute); !errors.Is(err, ErrJobBusy) {
		t.Fatalf("second owner: %v", err)
	}
	if err := jobs.Renew(ctx, j.ID, "b", time.Minute); !errors.Is(err, ErrJobBusy) {
		t.Fatalf("renew by a non-owner: %v", err)
	}
	if err := jobs.Release(ctx, j.ID, "b"); err != nil || !mr.Exists("er:replay:{"+j.ID+"}:lease") {
		t.Fatalf("a non-owner released the lease: %v", err)
	}
	if err := jobs.Release(ctx, j.ID, "a"); err != nil {
		t.Fatal(err)
	}
	if err := jobs.Acquire(ctx, j.ID, "b", time.Minute); err != nil {
		t.Fatalf("after release: %v", err)
	}
	mr.FastForward(2 * time.Minute)
	if err := jobs.Acquire(ctx, j.ID, "c", time.Minute); err != nil {
		t.Fatalf("an expired lease (crashed owner) must not block a resume: %v", err)
	}
}

// What Resume looks at after a restart: the jobs Start marked active. Ended jobs (done,
// failed) and expired ones leave the set and are not run; a job held by a live process
// is tried (a background run that finds the lease busy) and stays in the set; a job run
// only by the replay command (Create, never Start) is never taken over.
func TestResumeLooksOnlyAtUnendedBackgroundJobs(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	jobs := NewJobs(rdb, "er:", time.Hour)
	cat, err := events.NewCatalogue(catalogue)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{IngestTopics: []string{"ingest"}, DeliveriesTopic: "deliveries"},
		Deps{Subscriptions: staticSubs{}, Parser: events.NewParser(cat, 0), Jobs: jobs}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	save := func(state string, active bool) string {
		j := &Job{ID: newJobID(), State: state, Skipped: map[string]int64{}, Counts: map[string]map[string]int64{}}
		if err := jobs.Save(ctx, j); err != nil {
			t.Fatal(err)
		}
		if active {
			if err := jobs.MarkActive(ctx, j.ID); err != nil {
				t.Fatal(err)
			}
		}
		return j.ID
	}
	done, failed := save(StateDone, true), save(StateFailed, true)
	held := save(StateRunning, true)
	if err := jobs.Acquire(ctx, held, "another-process", time.Minute); err != nil {
		t.Fatal(err)
	}
	commandOnly := save(StateStopped, false)
	expired := newJobID()
	if err := jobs.MarkActive(ctx, expired); err != nil {
		t.Fatal(err)
	}

	started, err := e.resumeActive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if started != 1 {
		t.Fatalf("started %d background runs, want 1 (the held job's, which finds its lease busy)", started)
	}
	e.wg.Wait() // the held job's run returns at once: its lease is busy
	active, err := jobs.Active(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(active, []string{held}) {
		t.Fatalf("active after a look: %v, want only the held job %s (done %s, failed %s, expired %s dropped)", active, held, done, failed, expired)
	}
	for id, want := range map[string]string{done: StateDone, failed: StateFailed, held: StateRunning, commandOnly: StateStopped} {
		if j, err := jobs.Get(ctx, id); err != nil || j.State != want {
			t.Fatalf("job %s: %v %v, want state %s untouched", id, j, err, want)
		}
	}
	if n := testutil.ToFloat64(e.metrics.resumed); n != 0 {
		t.Fatalf("resumed_total %v: a run that found the lease busy resumed nothing", n)
	}
}

type staticSubs struct{}

func (staticSubs) Load(context.Context) (int64, []*subscriptions.Subscription, error) {
	return 1, nil, nil
}
