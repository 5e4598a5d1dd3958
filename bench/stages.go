package bench

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/claimable/eventrouter/events"
)

// Stages splits end-to-end latency where the pipeline hands over, for the "what limits
// it" analysis. Every figure is per delivery, over the deliveries the tap saw:
//
//   - Routed: occurred_at → the delivery record's timestamp, which the router's client
//     stamps when the router produces it (ingest produce, router fetch, parse, match);
//   - Visible: that timestamp → when a read_committed consumer (the tap, fetching like
//     the sender) received it: the router's flush and transaction commit, the LSO
//     moving, and one fetch;
//   - Sent: visible → arrival at the receiver: the sender's own fetch, lanes and HTTP
//     request. The sender fetches independently of the tap, so this is approximate
//     (it can be slightly negative when the sender saw a record before the tap did).
type Stages struct {
	Routed  Percentiles `json:"routed"`
	Visible Percentiles `json:"visible"`
	Sent    Percentiles `json:"sent"`
}

// tapFetchMaxWait is the tap's long-poll bound: short, so an idle moment never delays
// what it reports (data arriving ends a long poll at once anyway).
const tapFetchMaxWait = 50 * time.Millisecond

// tap reads the deliveries topic read_committed during the measured phase and
// remembers, per delivery id, when the router produced the record and when it became
// visible. Safe for concurrent use.
type tap struct {
	cl   *kgo.Client
	stop context.CancelFunc
	done chan struct{}

	mu   sync.Mutex
	seen map[string]tapEntry
}

type tapEntry struct {
	occurred, routed, visible time.Time
}

// startTap starts consuming topic from its start (the run's own, fresh topic).
func startTap(ctx context.Context, seeds []string, topic string) (*tap, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(tapFetchMaxWait))
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(ctx)
	t := &tap{cl: cl, stop: stop, done: make(chan struct{}), seen: map[string]tapEntry{}}
	go t.loop(ctx)
	return t, nil
}

func (t *tap) loop(ctx context.Context) {
	defer close(t.done)
	for ctx.Err() == nil {
		fs := t.cl.PollFetches(ctx)
		now := time.Now()
		t.mu.Lock()
		fs.EachRecord(func(r *kgo.Record) {
			if d, err := events.ParseDelivery(r); err == nil {
				t.seen[d.ID] = tapEntry{occurred: d.OccurredAt, routed: r.Timestamp, visible: now}
			}
		})
		t.mu.Unlock()
	}
}

// close stops the tap.
func (t *tap) close() {
	t.stop()
	<-t.done
	t.cl.Close()
}

// stages joins what the tap saw with the receiver's first arrivals of the measured
// phase (warm-up deliveries are not in arrivals, so they are left out).
func (t *tap) stages(arrivals map[string]time.Time) Stages {
	t.mu.Lock()
	defer t.mu.Unlock()
	var routed, visible, sent []time.Duration
	for id, at := range arrivals {
		e, ok := t.seen[id]
		if !ok {
			continue
		}
		routed = append(routed, e.routed.Sub(e.occurred))
		visible = append(visible, e.visible.Sub(e.routed))
		sent = append(sent, at.Sub(e.visible))
	}
	return Stages{Routed: Summarise(routed), Visible: Summarise(visible), Sent: Summarise(sent)}
}
