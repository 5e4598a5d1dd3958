package replay

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/subscriptions"
)

// run is one execution of a job: it works on cur and copies it to job at each
// checkpoint, so what is saved never runs ahead of what Kafka acknowledged.
type run struct {
	e     *Engine
	job   *Job // as of the last checkpoint
	cur   *Job // working state
	owner string
	index *subscriptions.Index
	cl    *kgo.Client // reader and producer
	limit *rate.Limiter

	mu      sync.Mutex
	prodErr error // first failed produce since the last checkpoint

	sinceCheckpoint int
	lastCheckpoint  time.Time
	subs            []*subscriptions.Subscription // Match scratch
}

// newRun loads the subscriptions and plans the job if it is new.
func (e *Engine) newRun(ctx context.Context, j *Job, owner string) (*run, error) {
	_, subs, err := e.deps.Subscriptions.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("load subscriptions: %w", err)
	}
	r := &run{e: e, job: j, owner: owner, index: subscriptions.NewStaticIndex(subs),
		limit: rate.NewLimiter(rate.Limit(e.cfg.Rate), e.cfg.Burst), lastCheckpoint: time.Now()}
	if j.Partitions == nil {
		cl, err := kgo.NewClient(e.deps.KafkaOpts...)
		if err != nil {
			return nil, err
		}
		err = plan(ctx, cl, j, e.cfg.IngestTopics)
		cl.Close()
		if err != nil {
			return nil, err
		}
		if j.Partitions == nil {
			j.Partitions = []Partition{}
		}
	}
	j.State, j.Error = StateRunning, ""
	j.UpdatedAt = e.now().UTC()
	if err := e.deps.Jobs.Save(ctx, j); err != nil {
		return nil, err
	}
	r.cur = j.clone()
	return r, nil
}

// run reads every unfinished partition from its next offset to its end.
func (r *run) run(ctx context.Context) error {
	if err := r.skipExpired(ctx); err != nil {
		return err
	}
	assign := map[string]map[int32]kgo.Offset{}
	pending := map[string]map[int32]int{} // topic → partition → index in cur.Partitions
	for i, p := range r.cur.Partitions {
		if p.Next >= p.End {
			continue
		}
		if assign[p.Topic] == nil {
			assign[p.Topic], pending[p.Topic] = map[int32]kgo.Offset{}, map[int32]int{}
		}
		assign[p.Topic][p.Partition] = kgo.NewOffset().At(p.Next)
		pending[p.Topic][p.Partition] = i
	}
	left := 0
	for _, m := range pending {
		left += len(m)
	}
	if left == 0 {
		return r.checkpoint(ctx)
	}
	opts := append(append([]kgo.Opt(nil), r.e.deps.KafkaOpts...),
		kgo.ConsumePartitions(assign),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Control records (transaction markers) tell the reader it has passed an
		// aborted tail, so a partition ending in one still reaches its end.
		kgo.KeepControlRecords(),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchMaxBytes(int32(r.e.cfg.MaxRecordBytes+64*1024)),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	r.cl = cl
	for left > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if ferr == nil {
				ferr = fmt.Errorf("fetch %s/%d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		var rerr error
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			i, ok := pending[fp.Topic][fp.Partition]
			if !ok || rerr != nil {
				return
			}
			p := &r.cur.Partitions[i]
			for _, rec := range fp.Records {
				if rec.Offset >= p.End {
					p.Next = p.End // past the bound (e.g. the bound fell on an aborted record)
					break
				}
				if rec.Offset < p.Next {
					continue
				}
				if !rec.Attrs.IsControl() {
					if rerr = r.handle(ctx, rec); rerr != nil {
						return
					}
				}
				p.Next = rec.Offset + 1
				if rerr = r.maybeCheckpoint(ctx); rerr != nil {
					return
				}
			}
			if p.Next >= p.End { // finished: once per partition, however many records reached it
				delete(pending[fp.Topic], fp.Partition)
				cl.RemoveConsumePartitions(map[string][]int32{fp.Topic: {fp.Partition}})
				left--
			}
		})
		if rerr != nil {
			return rerr
		}
	}
	return r.checkpoint(ctx)
}

// handle replays one ingest record: parse as the router does, match against the
// current subscriptions, filter by the spec, and produce (or count) each delivery.
func (r *run) handle(ctx context.Context, rec *kgo.Record) error {
	r.cur.Read++
	ev, err := r.e.deps.Parser.Parse(rec.Value)
	if err != nil {
		reason := "invalid"
		var ie *events.InvalidError
		if errors.As(err, &ie) {
			reason = string(ie.Reason)
		}
		r.cur.Skipped[reason]++
		return nil
	}
	if !r.cur.Spec.selects(ev) {
		return nil
	}
	r.subs = r.index.Match(ev, r.subs[:0])
	var body []byte
	for _, sub := range r.subs {
		// Unlike the router, a replay skips disabled subscriptions: the sender would
		// only hold their deliveries in the DLQ. Re-enable first, then replay.
		if !sub.Enabled || !r.cur.Spec.keeps(sub) {
			continue
		}
		d, skip := r.delivery(ev, sub, &body)
		if skip != "" {
			r.cur.Skipped[skip]++
			r.e.log.Warn("replay: delivery skipped", zap.String("job", r.cur.ID), zap.String("event_id", ev.ID),
				zap.String("subscription_id", sub.ID), zap.String("reason", skip))
			continue
		}
		r.cur.count(sub.ID, ev.EventName)
		if r.cur.Spec.DryRun {
			continue
		}
		if err := r.limit.Wait(ctx); err != nil {
			return err
		}
		r.cl.Produce(ctx, d, r.produced)
		r.sinceCheckpoint++
	}
	return nil
}

// delivery builds the record the router would have produced for ev and sub (same
// webhook-id and body), plus the er-replay header; skip names why it cannot be sent.
func (r *run) delivery(ev *events.Event, sub *subscriptions.Subscription, full *[]byte) (_ *kgo.Record, skip string) {
	var body []byte
	if shape := sub.Shape(); shape.IsFull() {
		if *full == nil {
			*full = events.Render(ev)
		}
		body = *full
	} else {
		b, err := events.RenderShaped(ev, shape)
		if err != nil {
			return nil, string(events.ReasonInvalidField)
		}
		body = b
	}
	rec := events.NewDelivery(ev, sub.ID, body).Record(r.e.cfg.DeliveriesTopic)
	rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: events.HeaderReplay, Value: []byte(r.cur.ID)})
	if recordBytes(rec) > r.e.cfg.MaxRecordBytes {
		return nil, string(events.ReasonTooLarge)
	}
	return rec, ""
}

func recordBytes(rec *kgo.Record) int {
	n := len(rec.Key) + len(rec.Value) + 64
	for _, h := range rec.Headers {
		n += len(h.Key) + len(h.Value) + 8
	}
	return n
}

func (r *run) produced(_ *kgo.Record, err error) {
	if err == nil {
		return
	}
	r.mu.Lock()
	if r.prodErr == nil {
		r.prodErr = err
	}
	r.mu.Unlock()
}

func (r *run) maybeCheckpoint(ctx context.Context) error {
	r.sinceCheckpoint++
	if r.sinceCheckpoint < r.e.cfg.CheckpointRecords && time.Since(r.lastCheckpoint) < r.e.cfg.CheckpointInterval {
		return nil
	}
	return r.checkpoint(ctx)
}

// checkpoint waits until every produced delivery is acknowledged, then saves the
// working state as the job's and renews the lease.
func (r *run) checkpoint(ctx context.Context) error {
	if r.cl != nil {
		if err := r.cl.Flush(ctx); err != nil {
			return err
		}
	}
	r.mu.Lock()
	err := r.prodErr
	r.mu.Unlock()
	if err != nil {
		return fmt.Errorf("produce delivery: %w", err)
	}
	r.e.metrics.checkpointed(r.job, r.cur)
	*r.job = *r.cur.clone()
	r.job.UpdatedAt = r.e.now().UTC()
	if err := r.e.deps.Jobs.Renew(ctx, r.job.ID, r.owner, r.e.cfg.LeaseTTL); err != nil {
		return err
	}
	if err := r.e.deps.Jobs.Save(ctx, r.job); err != nil {
		return err
	}
	r.sinceCheckpoint, r.lastCheckpoint = 0, time.Now()
	return nil
}

// skipExpired moves each partition's next offset past records retention already
// deleted, counting them as skipped "retention": reading them is impossible, and waiting
// for them would never end.
func (r *run) skipExpired(ctx context.Context) error {
	cl, err := kgo.NewClient(r.e.deps.KafkaOpts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	starts, err := kadm.NewClient(cl).ListStartOffsets(ctx, r.e.cfg.IngestTopics...)
	if err != nil {
		return fmt.Errorf("list start offsets: %w", err)
	}
	for i := range r.cur.Partitions {
		p := &r.cur.Partitions[i]
		o, ok := starts.Lookup(p.Topic, p.Partition)
		if !ok || o.Err != nil || o.Offset <= p.Next || p.Next >= p.End {
			continue
		}
		gone := min(o.Offset, p.End) - p.Next
		r.cur.Skipped[SkipRetention] += gone
		r.e.log.Warn("replay: records past retention", zap.String("job", r.cur.ID), zap.String("topic", p.Topic),
			zap.Int32("partition", p.Partition), zap.Int64("from", p.Next), zap.Int64("records", gone))
		p.Next += gone
	}
	return nil
}
