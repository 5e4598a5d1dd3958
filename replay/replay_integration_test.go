//go:build integration

package replay

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/testenv"
	"github.com/claimable/eventrouter/subscriptions"
)

type staticLoader []*subscriptions.Subscription

func (s staticLoader) Load(context.Context) (int64, []*subscriptions.Subscription, error) {
	return 1, s, nil
}

// window is an ingest topic holding events before, inside and after a replay window,
// and the deliveries a replay of the window must produce.
type window struct {
	seeds    []string
	ingest   string
	from, to time.Time
	want     map[string][]byte           // delivery id → body
	counts   map[string]map[string]int64 // subscription → event name → deliveries
	invalid  int
}

var replaySubs = staticLoader{
	{ID: "sub_claims", AccountID: "acct_1", Events: []string{"claim.*"}, Enabled: true},
	{ID: "sub_thin", AccountID: "acct_1", Events: []string{"*"}, Enabled: true, Payload: events.PayloadThin},
	{ID: "sub_contacts", AccountID: "acct_2", Events: []string{"contact.*"}, Enabled: true},
	{ID: "sub_off", AccountID: "acct_1", Events: []string{"*"}, Enabled: false},
}

// newWindow produces n events inside the window (every 7th invalid), and 300 before
// and 300 after it, with record timestamps in the past (brokers refuse far-future ones).
func newWindow(t *testing.T, n int) *window {
	seeds := testenv.Kafka(t)
	w := &window{seeds: seeds, ingest: testenv.NewTopic(t, seeds, 3), want: map[string][]byte{},
		counts: map[string]map[string]int64{}}
	base := time.Now().Add(-3 * time.Hour).Truncate(time.Second)
	w.from, w.to = base.Add(time.Hour), base.Add(2*time.Hour)
	names := []string{"claim.created", "claim.closed", "contact.created"}
	var recs []*kgo.Record
	add := func(i int, at time.Time, inside bool) {
		acct := []string{"acct_1", "acct_2", "acct_3"}[i%3]
		name := names[(i/3)%3]
		e := events.Sample(name, acct, fmt.Sprintf("obj_%d", i%50), i, at)
		e.ID = fmt.Sprintf("evt_%d_%d", i, at.UnixMilli())
		value := e.Marshal()
		if i%7 == 0 {
			value = []byte(`{"not":"an event"}`)
		}
		recs = append(recs, &kgo.Record{Topic: w.ingest, Key: []byte(acct), Value: value, Timestamp: at})
		if !inside {
			return
		}
		if i%7 == 0 {
			w.invalid++
			return
		}
		expect := func(sub string, body []byte) {
			w.want[events.DeliveryID(e.ID, sub)] = body
			if w.counts[sub] == nil {
				w.counts[sub] = map[string]int64{}
			}
			w.counts[sub][name]++
		}
		switch {
		case acct == "acct_1":
			if strings.HasPrefix(name, "claim.") {
				expect("sub_claims", events.Render(e))
			}
			thin, err := events.RenderShaped(e, events.Shape{Thin: true})
			if err != nil {
				t.Fatal(err)
			}
			expect("sub_thin", thin)
		case acct == "acct_2" && strings.HasPrefix(name, "contact."):
			expect("sub_contacts", events.Render(e))
		}
	}
	i := 0
	for range 300 {
		add(i, w.from.Add(-30*time.Minute).Add(time.Duration(i)*time.Millisecond), false)
		i++
	}
	for k := range n {
		add(i, w.from.Add(time.Duration(k)*time.Millisecond*(time.Hour/time.Millisecond)/time.Duration(n)), true)
		i++
	}
	for k := range 300 {
		add(i, w.to.Add(time.Duration(k)*time.Millisecond), false)
		i++
	}
	ctx := testenv.Context(t, time.Minute)
	if err := testenv.KafkaClient(t).ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *window) engine(t *testing.T, deliveries string, cfg Config, reg prometheus.Registerer) *Engine {
	rdb, prefix := testenv.RedisDB(t)
	return w.engineOn(t, NewJobs(rdb, prefix, time.Hour), deliveries, cfg, reg)
}

// engineOn is engine over the given job store: engines sharing one stand for processes
// sharing a Redis.
func (w *window) engineOn(t *testing.T, jobs *Jobs, deliveries string, cfg Config, reg prometheus.Registerer) *Engine {
	cat, err := events.NewCatalogue(config.DefaultCatalogue)
	if err != nil {
		t.Fatal(err)
	}
	cfg.IngestTopics, cfg.DeliveriesTopic = []string{w.ingest}, deliveries
	e, err := New(cfg, Deps{KafkaOpts: []kgo.Opt{kgo.SeedBrokers(w.seeds...)}, Subscriptions: replaySubs,
		Parser: events.NewParser(cat, 0), Jobs: jobs, Registerer: reg}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// readAll returns every record of topic up to its current end.
func readAll(t *testing.T, seeds []string, topic string) []*kgo.Record {
	ctx := testenv.Context(t, time.Minute)
	ends, err := testenv.KafkaAdmin(t).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	left := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
		}
	})
	cl := testenv.KafkaClient(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var out []*kgo.Record
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %v (partitions left %v)", topic, ctx.Err(), left)
		}
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, r)
			if r.Offset+1 >= left[r.Partition] {
				delete(left, r.Partition)
			}
		})
	}
	return out
}

func header(r *kgo.Record, k string) string {
	for _, h := range r.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return ""
}

// TestReplayDeliversExactlyTheWindow: a replay of a 10 000-event window produces
// exactly the deliveries the router would have (same webhook-id and body, per the
// current subscriptions: not the disabled one, shaped for the thin one), each marked
// with the job id; nothing from before or after the window; invalid records skipped and
// counted; and the dry run's counts equal the real run's, with nothing produced.
func TestReplayDeliversExactlyTheWindow(t *testing.T) {
	w := newWindow(t, 10000)
	deliveries := testenv.NewTopic(t, w.seeds, 3)
	reg := prometheus.NewRegistry()
	e := w.engine(t, deliveries, Config{Rate: 1e6}, reg)
	ctx := testenv.Context(t, 2*time.Minute)
	spec := Spec{From: w.from, To: w.to}

	dry, err := e.Create(ctx, Spec{From: w.from, To: w.to, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	dryJob, err := e.Run(ctx, dry.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, w.seeds, deliveries); len(got) != 0 {
		t.Fatalf("dry run produced %d records", len(got))
	}
	if !equalCounts(dryJob.Counts, w.counts) {
		t.Fatalf("dry-run counts\n got %v\nwant %v", dryJob.Counts, w.counts)
	}

	real, err := e.Create(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	job, err := e.Run(ctx, real.ID)
	if err != nil {
		t.Fatal(err)
	}
	if job.State != StateDone || job.Progress() != 1 {
		t.Fatalf("state %s progress %v", job.State, job.Progress())
	}
	if !equalCounts(job.Counts, dryJob.Counts) || job.Deliveries != int64(len(w.want)) {
		t.Fatalf("real counts %v (%d) differ from the dry run's %v / want %d", job.Counts, job.Deliveries, dryJob.Counts, len(w.want))
	}
	if job.Read != 10000 || sum(job.Skipped) != int64(w.invalid) {
		t.Fatalf("read %d, skipped %v; want 10000 read, %d invalid", job.Read, job.Skipped, w.invalid)
	}
	got := readAll(t, w.seeds, deliveries)
	seen := map[string]bool{}
	for _, r := range got {
		d, err := events.ParseDelivery(r)
		if err != nil {
			t.Fatal(err)
		}
		if seen[d.ID] {
			t.Fatalf("delivery %s produced twice", d.ID)
		}
		seen[d.ID] = true
		body, ok := w.want[d.ID]
		if !ok {
			t.Fatalf("unexpected delivery %s (%s for %s)", d.ID, d.EventID, d.SubscriptionID)
		}
		if !bytes.Equal(d.Body, body) {
			t.Fatalf("delivery %s body differs from the router's:\n got %s\nwant %s", d.ID, d.Body, body)
		}
		if header(r, events.HeaderReplay) != job.ID {
			t.Fatalf("delivery %s: er-replay %q, want %q", d.ID, header(r, events.HeaderReplay), job.ID)
		}
	}
	if len(seen) != len(w.want) {
		t.Fatalf("delivered %d of %d expected", len(seen), len(w.want))
	}
	if n := testutil.ToFloat64(e.metrics.produced); n != float64(len(w.want)) {
		t.Fatalf("deliveries_produced_total %v, want %d (the dry run counts none)", n, len(w.want))
	}
	if n := testutil.ToFloat64(e.metrics.read); n != 20000 {
		t.Fatalf("records_read_total %v, want 20000 (two runs)", n)
	}
}

// TestReplayResumesAfterStop: a job stopped midway (its context cancelled) is saved as
// stopped with partial progress; running it again finishes it, and the two runs
// together deliver the whole expected set (duplicates share their webhook-id).
func TestReplayResumesAfterStop(t *testing.T) {
	w := newWindow(t, 3000)
	deliveries := testenv.NewTopic(t, w.seeds, 3)
	e := w.engine(t, deliveries, Config{Rate: 1000, Burst: 10, CheckpointRecords: 100}, nil)
	ctx := testenv.Context(t, 2*time.Minute)
	j, err := e.Create(ctx, Spec{From: w.from, To: w.to})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan *Job, 1)
	go func() {
		job, _ := e.Run(runCtx, j.ID)
		done <- job
	}()
	testenv.Eventually(t, time.Minute, "a checkpoint", func() bool {
		cur, err := e.Get(ctx, j.ID)
		return err == nil && cur.Deliveries > 0
	})
	stop()
	first := <-done
	if first.State != StateStopped || first.Progress() >= 1 || first.Progress() <= 0 {
		t.Fatalf("stopped job: state %s progress %v", first.State, first.Progress())
	}
	job, err := e.Run(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if job.State != StateDone {
		t.Fatalf("resumed job state %s", job.State)
	}
	// Resumed from the checkpoint, not from the start: the counts carried over and the
	// second run's add up to exactly one pass over the window.
	if job.Read != 3000 || job.Deliveries != int64(len(w.want)) || !equalCounts(job.Counts, w.counts) {
		t.Fatalf("resumed job read %d records, counted %d deliveries; want 3000 and %d", job.Read, job.Deliveries, len(w.want))
	}
	seen := map[string]bool{}
	for _, r := range readAll(t, w.seeds, deliveries) {
		id := header(r, events.HeaderDeliveryID)
		if _, ok := w.want[id]; !ok {
			t.Fatalf("unexpected delivery %s", id)
		}
		seen[id] = true
	}
	if len(seen) != len(w.want) {
		t.Fatalf("the two runs delivered %d distinct of %d expected", len(seen), len(w.want))
	}
}

// TestReplayTakenOverByAnotherProcess: a job started in the background (as POST
// /v1/replays does) by one process is finished by another process's Resume: after its
// first process shut down (state stopped, lease released), and — with its lease left
// held as by a process that died — only once that lease has expired. The two runs
// together deliver the whole expected set, and the job leaves the active set when done.
func TestReplayTakenOverByAnotherProcess(t *testing.T) {
	w := newWindow(t, 3000)
	deliveries := testenv.NewTopic(t, w.seeds, 3)
	rdb, prefix := testenv.RedisDB(t)
	jobs := NewJobs(rdb, prefix, time.Hour)
	first := w.engineOn(t, jobs, deliveries, Config{Rate: 1000, Burst: 10, CheckpointRecords: 100}, nil)
	ctx := testenv.Context(t, 2*time.Minute)
	j, err := first.Start(ctx, Spec{From: w.from, To: w.to})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, "a checkpoint", func() bool {
		cur, err := first.Get(ctx, j.ID)
		return err == nil && cur.Deliveries > 0
	})
	first.Close() // shutdown: the job is saved stopped, resumable
	stopped, err := jobs.Get(ctx, j.ID)
	if err != nil || stopped.State != StateStopped || stopped.Progress() >= 1 {
		t.Fatalf("after the first process's shutdown: %+v %v, want a stopped, unfinished job", stopped, err)
	}

	// As if the first process had died instead: its job says running, its lease is held.
	stopped.State = StateRunning
	if err := jobs.Save(ctx, stopped); err != nil {
		t.Fatal(err)
	}
	const leaseLeft = 2 * time.Second
	if err := jobs.Acquire(ctx, j.ID, "dead-process", leaseLeft); err != nil {
		t.Fatal(err)
	}
	leaseSet := time.Now()
	second := w.engineOn(t, jobs, deliveries, Config{Rate: 1e6, ResumeInterval: 200 * time.Millisecond}, nil)
	second.Resume()
	var took time.Duration
	testenv.Eventually(t, time.Minute, "the job resumed by the second process", func() bool {
		if testutil.ToFloat64(second.metrics.resumed) == 0 {
			return false
		}
		if took == 0 {
			took = time.Since(leaseSet)
		}
		return true
	})
	if took < leaseLeft-200*time.Millisecond { // Redis's expiry is exact to the ms; allow the look's tick
		t.Fatalf("resumed %s after the dead process's lease was set for %s: it ran while the lease was held", took, leaseLeft)
	}
	testenv.Eventually(t, time.Minute, "the resumed job done", func() bool {
		cur, err := jobs.Get(ctx, j.ID)
		return err == nil && cur.State == StateDone
	})
	done, _ := jobs.Get(ctx, j.ID)
	if done.Read != 3000 || done.Deliveries != int64(len(w.want)) || !equalCounts(done.Counts, w.counts) {
		t.Fatalf("resumed job read %d records, counted %d deliveries; want 3000 and %d", done.Read, done.Deliveries, len(w.want))
	}
	seen := map[string]bool{}
	for _, r := range readAll(t, w.seeds, deliveries) {
		seen[header(r, events.HeaderDeliveryID)] = true
	}
	if len(seen) != len(w.want) {
		t.Fatalf("the two processes delivered %d distinct of %d expected", len(seen), len(w.want))
	}
	testenv.Eventually(t, 5*time.Second, "the done job out of the active set", func() bool {
		active, err := jobs.Active(ctx)
		return err == nil && len(active) == 0
	})
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func equalCounts(a, b map[string]map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, m := range a {
		if !maps.Equal(m, b[k]) {
			return false
		}
	}
	return true
}

// TestReplaySkipsRecordsPastRetention: records of a planned window deleted before the
// job reads them (retention) are counted as skipped "retention", and the job still ends
// instead of waiting for offsets that will never come.
func TestReplaySkipsRecordsPastRetention(t *testing.T) {
	w := newWindow(t, 500)
	deliveries := testenv.NewTopic(t, w.seeds, 3)
	e := w.engine(t, deliveries, Config{Rate: 1e6}, nil)
	ctx := testenv.Context(t, time.Minute)
	j, err := e.Create(ctx, Spec{From: w.from, To: w.to})
	if err != nil {
		t.Fatal(err)
	}
	// Plan it (as a first run would), then let "retention" delete every record.
	if err := plan(ctx, testenv.KafkaClient(t), j, []string{w.ingest}); err != nil {
		t.Fatal(err)
	}
	if err := e.deps.Jobs.Save(ctx, j); err != nil {
		t.Fatal(err)
	}
	adm := testenv.KafkaAdmin(t)
	ends, err := adm.ListEndOffsets(ctx, w.ingest)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.DeleteRecords(ctx, ends.Offsets()); err != nil {
		t.Fatal(err)
	}
	job, err := e.Run(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if job.State != StateDone || job.Skipped[SkipRetention] != 500 || job.Read != 0 || job.Deliveries != 0 {
		t.Fatalf("job %s: skipped %v, read %d, %d deliveries; want done with 500 skipped for retention",
			job.State, job.Skipped, job.Read, job.Deliveries)
	}
}
