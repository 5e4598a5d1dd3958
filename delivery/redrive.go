package delivery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/events"
)

// HeldReasons are the DLQ reasons of deliveries held for a disabled subscription: those
// the sender found the subscription disabled for, and the 410 Gone that disabled it.
// Recovering a re-enabled subscription re-drives exactly these.
var HeldReasons = []Reason{ReasonDisabled, ReasonGone}

// RedriveOptions selects what Redrive sends back.
type RedriveOptions struct {
	KafkaOpts []kgo.Opt // seed brokers, TLS, SASL (internal/kafkaclient.Options)
	// DLQTopic (topics.dlq) is read; DeliveriesTopic (topics.deliveries) is written.
	DLQTopic        string
	DeliveriesTopic string
	// SubscriptionID, when set, re-drives only that subscription's deliveries.
	SubscriptionID string
	// Since, when set, skips DLQ records with a timestamp before it.
	Since time.Time
	// Reasons, when set, re-drives only records whose er-reason is one of them (e.g.
	// the deliveries held while a subscription was disabled; see HeldReasons).
	Reasons []Reason
	// DryRun counts what would be re-driven without producing anything.
	DryRun bool
	Log    *zap.Logger // nil: no logging
}

// RedriveReport counts what one Redrive did.
type RedriveReport struct {
	Scanned   int // DLQ records read (up to the snapshot end)
	Redriven  int // produced back to the deliveries topic (acknowledged); 0 on DryRun
	Matched   int // records that matched the filters
	Invalid   int // DLQ records that are not delivery records (e.g. invalid_record copies): left in place
	Partition int // DLQ partitions read
}

// Redrive reads the DLQ (read_committed) from its start, or from Since by record
// timestamp, up to the end offsets snapshotted when it starts (so it terminates even
// while the DLQ keeps growing), and produces every matching delivery back to the
// deliveries topic, restarted (events.Delivery.Restart): same delivery id (the
// receiver's dedupe key), Attempt 1, history kept with the restart recorded, header
// er-redrive: "dlq". Records that are
// not valid deliveries are counted and left alone. The DLQ itself is not modified:
// re-driving twice sends twice (with the same webhook-id). It waits for every produce
// acknowledgement; on error the report says how far it got.
func Redrive(ctx context.Context, opts RedriveOptions) (RedriveReport, error) {
	var rep RedriveReport
	log := opts.Log
	if log == nil {
		log = zap.NewNop()
	}
	if opts.DLQTopic == "" || opts.DeliveriesTopic == "" {
		return rep, errors.New("delivery: redrive: DLQTopic (topics.dlq) and DeliveriesTopic (topics.deliveries) are required")
	}
	admCl, err := kgo.NewClient(opts.KafkaOpts...)
	if err != nil {
		return rep, fmt.Errorf("delivery: redrive: kafka client: %w", err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	ends, err := adm.ListCommittedOffsets(ctx, opts.DLQTopic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return rep, fmt.Errorf("delivery: redrive: list end offsets of %s: %w", opts.DLQTopic, err)
	}
	var starts kadm.ListedOffsets
	if opts.Since.IsZero() {
		starts, err = adm.ListStartOffsets(ctx, opts.DLQTopic)
	} else {
		starts, err = adm.ListOffsetsAfterMilli(ctx, opts.Since.UnixMilli(), opts.DLQTopic)
	}
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return rep, fmt.Errorf("delivery: redrive: list start offsets of %s: %w", opts.DLQTopic, err)
	}

	from := map[int32]kgo.Offset{}
	end := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		s, ok := starts.Lookup(o.Topic, o.Partition)
		if ok && s.Offset < o.Offset {
			from[o.Partition] = kgo.NewOffset().At(s.Offset)
			end[o.Partition] = o.Offset
		}
	})
	rep.Partition = len(ends[opts.DLQTopic])
	if len(from) == 0 {
		return rep, nil
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt{}, opts.KafkaOpts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{opts.DLQTopic: from}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), // so the last offset before the end is always seen
		kgo.RequiredAcks(kgo.AllISRAcks()),
	)...)
	if err != nil {
		return rep, fmt.Errorf("delivery: redrive: kafka client: %w", err)
	}
	defer cl.Close()

	for len(end) > 0 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("delivery: redrive: %w", err)
		}
		var fetchErr error
		fetches.EachError(func(t string, p int32, err error) { fetchErr = fmt.Errorf("fetch %s/%d: %w", t, p, err) })
		if fetchErr != nil {
			return rep, fmt.Errorf("delivery: redrive: %w", fetchErr)
		}
		var out []*kgo.Record
		fetches.EachRecord(func(r *kgo.Record) {
			stop, ok := end[r.Partition]
			if !ok || r.Offset >= stop {
				return
			}
			if r.Offset+1 >= stop {
				delete(end, r.Partition)
			}
			if r.Attrs.IsControl() {
				return
			}
			rep.Scanned++
			if rec := redriveRecord(r, opts, &rep); rec != nil {
				out = append(out, rec)
			}
		})
		if len(out) == 0 || opts.DryRun {
			continue
		}
		if err := cl.ProduceSync(ctx, out...).FirstErr(); err != nil {
			return rep, fmt.Errorf("delivery: redrive: produce to %s: %w", opts.DeliveriesTopic, err)
		}
		rep.Redriven += len(out)
	}
	log.Info("dlq redrive done", zap.Int("scanned", rep.Scanned), zap.Int("matched", rep.Matched),
		zap.Int("redriven", rep.Redriven), zap.Int("invalid", rep.Invalid))
	return rep, nil
}

// redriveRecord returns the deliveries-topic record for a DLQ record, or nil if it is
// filtered out or invalid.
func redriveRecord(r *kgo.Record, opts RedriveOptions, rep *RedriveReport) *kgo.Record {
	if !opts.Since.IsZero() && r.Timestamp.Before(opts.Since) {
		return nil
	}
	d, err := events.ParseDelivery(r)
	if err != nil {
		rep.Invalid++
		return nil
	}
	if opts.SubscriptionID != "" && d.SubscriptionID != opts.SubscriptionID {
		return nil
	}
	if len(opts.Reasons) > 0 && !slices.Contains(opts.Reasons, Reason(d.Reason)) {
		return nil
	}
	rep.Matched++
	d.Restart(events.RedriveDLQ, time.Now())
	return d.Record(opts.DeliveriesTopic)
}
