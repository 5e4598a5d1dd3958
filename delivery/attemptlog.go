package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/claimable/eventrouter/events"
)

// ErrDeliveryNotFound means the attempt log has no record of a delivery (never attempted,
// or older than the log's TTL).
var ErrDeliveryNotFound = errors.New("delivery: delivery not found")

// Delivery statuses reported by AttemptLog.Delivery.
const (
	StatusDelivered    = "delivered"
	StatusRetrying     = "retrying"
	StatusDeadLettered = "dead_lettered"
)

// maxResponseLog bounds Attempt.Response, maxErrorLog Attempt.Error;
// maxAttemptsPerDelivery bounds one delivery's history (10 scheduled attempts, plus
// redrives).
const (
	maxResponseLog         = 1 << 10
	maxErrorLog            = 512
	maxAttemptsPerDelivery = 100
)

// Attempt is one delivery attempt as the API shows it.
type Attempt struct {
	DeliveryID     string    `json:"delivery_id"`
	SubscriptionID string    `json:"subscription_id"`
	AccountID      string    `json:"account_id"`
	EventID        string    `json:"event_id"`
	EventName      string    `json:"event_name"`
	Attempt        int       `json:"attempt"`
	At             time.Time `json:"at"`
	Status         int       `json:"status,omitempty"`
	Reason         Reason    `json:"reason"`
	LatencyMS      int64     `json:"latency_ms"`
	// Response is the first bytes of the response body: at most 1 KiB, valid UTF-8
	// (Record truncates and repairs it).
	Response string `json:"response,omitempty"`
	// Error says why the attempt failed, from the transport error or the status
	// ("delivery: endpoint answered 500 Internal Server Error", "… connection refused"):
	// at most 512 bytes, valid UTF-8, the endpoint's URL redacted (subscriptions.RedactURL).
	// Empty on success.
	Error string `json:"error,omitempty"`
	// Topic, Partition and Offset locate the Kafka record this attempt was made from.
	Topic     string `json:"topic,omitempty"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	// Final is true when the delivery is finished: delivered, or sent to the DLQ.
	Final bool `json:"final"`
}

// DeliveryStatus is what the log knows about one delivery.
type DeliveryStatus struct {
	ID             string    `json:"id"`
	SubscriptionID string    `json:"subscription_id"`
	AccountID      string    `json:"account_id"`
	EventID        string    `json:"event_id"`
	EventName      string    `json:"event_name"`
	Status         string    `json:"status"`   // StatusDelivered, StatusRetrying or StatusDeadLettered
	Attempts       []Attempt `json:"attempts"` // oldest first
	// Topic, Partition and Offset locate the newest Kafka record carrying this delivery
	// (its body), for redelivery.
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

// AttemptLogOptions configures an AttemptLog. Zero values take the defaults.
type AttemptLogOptions struct {
	Prefix             string        // key prefix; default "eventrouter:"
	MaxPerSubscription int           // attempts kept per subscription; default 1000
	TTL                time.Duration // age after which an idle log expires; default 14 days
}

// AttemptLog records delivery attempts in Redis for the API: per subscription (newest
// first, bounded) and per delivery (history, status and the Kafka coordinates needed to
// redeliver). It works on Redis, Redis Cluster and miniredis. Safe for concurrent use.
//
// Keys: <prefix>sub:{<sub>}:attempts (list of JSON, newest first),
// <prefix>dlv:{<id>} (hash), <prefix>dlv:{<id>}:attempts (list, oldest first),
// <prefix>sub:{<sub>}:failing (see Outcome).
type AttemptLog struct {
	rdb  redis.UniversalClient
	opts AttemptLogOptions
}

// NewAttemptLog returns a log on client; the caller owns client.
func NewAttemptLog(client redis.UniversalClient, opts AttemptLogOptions) *AttemptLog {
	if opts.Prefix == "" {
		opts.Prefix = "eventrouter:"
	}
	if opts.MaxPerSubscription <= 0 {
		opts.MaxPerSubscription = 1000
	}
	if opts.TTL <= 0 {
		opts.TTL = 14 * 24 * time.Hour
	}
	return &AttemptLog{rdb: client, opts: opts}
}

func (l *AttemptLog) subKey(subID string) string {
	return l.opts.Prefix + "sub:{" + subID + "}:attempts"
}
func (l *AttemptLog) dlvKey(id string) string { return l.opts.Prefix + "dlv:{" + id + "}" }
func (l *AttemptLog) failKey(subID string) string {
	return l.opts.Prefix + "sub:{" + subID + "}:failing"
}

// Record stores one attempt in a single pipeline: pushed on the subscription's list
// (trimmed to MaxPerSubscription), appended to the delivery's history, and the delivery's
// status and Kafka coordinates updated; every key's TTL is refreshed. An attempt without
// DeliveryID or SubscriptionID is refused with an error naming the field.
func (l *AttemptLog) Record(ctx context.Context, a Attempt) error {
	return l.RecordBatch(ctx, []Attempt{a})
}

// RecordBatch records several attempts in one Redis pipeline (one round trip), in
// order; each is stored exactly as Record stores it. An attempt without a delivery or
// subscription id is skipped and named in the returned error; the others are still
// written.
func (l *AttemptLog) RecordBatch(ctx context.Context, as []Attempt) error {
	return l.WriteBatch(ctx, as, nil)
}

// WriteBatch records as RecordBatch does and, in the same pipeline, clears the
// failing-since records of the subscriptions in clearFailing (as Outcome does on a
// success), so a sender's successes clear them without a round trip of their own. The
// error is nil only when every attempt and every clear was written.
//
// A subscription's attempts in the batch go in one LPUSH, trimmed and given their TTL
// once: the same list as one LPUSH per attempt, in fewer commands (a batch of 40 over 10
// subscriptions is ~5.75 commands an attempt instead of 8).
func (l *AttemptLog) WriteBatch(ctx context.Context, as []Attempt, clearFailing []string) error {
	var errs []error
	type encoded struct {
		a      Attempt
		b      []byte
		fields []any
	}
	enc := make([]encoded, 0, len(as))
	subs := subBatches{at: make(map[string]int)}
	for _, a := range as {
		switch {
		case a.DeliveryID == "":
			errs = append(errs, errors.New("delivery: attempt log: delivery_id is required"))
			continue
		case a.SubscriptionID == "":
			errs = append(errs, fmt.Errorf("delivery: attempt log: delivery %s: subscription_id is required", a.DeliveryID))
			continue
		}
		a.Response = events.TruncateUTF8(a.Response, maxResponseLog)
		a.Error = events.TruncateUTF8(a.Error, maxErrorLog)
		b, err := json.Marshal(a)
		if err != nil {
			errs = append(errs, fmt.Errorf("delivery: attempt log: encode %s: %w", a.DeliveryID, err))
			continue
		}
		fields := []any{
			"id", a.DeliveryID, "subscription_id", a.SubscriptionID, "account_id", a.AccountID,
			"event_id", a.EventID, "event_name", a.EventName, "status", attemptStatus(a),
		}
		if a.Topic != "" {
			fields = append(fields, "topic", a.Topic, "partition", a.Partition, "offset", a.Offset)
		}
		enc = append(enc, encoded{a, b, fields})
		subs.add(a.SubscriptionID, b)
	}
	if len(enc) == 0 && len(clearFailing) == 0 {
		return errors.Join(errs...)
	}
	// Order within the pipeline is what a reader between its commands can see: the
	// failing-since clears first and each delivery's own record next, so by the time an
	// attempt shows in its subscription's list (what the API and the UI list first), the
	// success has cleared the clock and the delivery can be opened.
	_, err := l.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, id := range clearFailing {
			p.Del(ctx, l.failKey(id))
		}
		for _, e := range enc {
			dk := l.dlvKey(e.a.DeliveryID)
			p.HSet(ctx, dk, e.fields...)
			p.Expire(ctx, dk, l.opts.TTL)
			p.RPush(ctx, dk+":attempts", e.b)
			p.LTrim(ctx, dk+":attempts", -maxAttemptsPerDelivery, -1)
			p.Expire(ctx, dk+":attempts", l.opts.TTL)
		}
		for _, sb := range subs.list {
			sk := l.subKey(sb.id)
			p.LPush(ctx, sk, sb.vals...)
			p.LTrim(ctx, sk, 0, int64(l.opts.MaxPerSubscription-1))
			p.Expire(ctx, sk, l.opts.TTL)
		}
		return nil
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("delivery: attempt log: record: %w", err))
	}
	return errors.Join(errs...)
}

// subBatches gathers a batch's encoded attempts by subscription, each subscription's in
// batch order, subscriptions in order of first appearance.
type subBatches struct {
	at   map[string]int // subscription id → index in list
	list []subBatch
}

type subBatch struct {
	id   string
	vals []any // encoded attempts, oldest first: LPUSH leaves the last at the head
}

func (s *subBatches) add(subID string, b []byte) {
	i, ok := s.at[subID]
	if !ok {
		i = len(s.list)
		s.at[subID] = i
		s.list = append(s.list, subBatch{id: subID})
	}
	s.list[i].vals = append(s.list[i].vals, b)
}

func attemptStatus(a Attempt) string {
	switch {
	case a.Final && a.Reason == ReasonOK:
		return StatusDelivered
	case a.Final:
		return StatusDeadLettered
	}
	return StatusRetrying
}

// List returns up to limit of subID's attempts, newest first. limit ≤ 0 or above
// MaxPerSubscription means MaxPerSubscription. An unknown subscription has none.
func (l *AttemptLog) List(ctx context.Context, subID string, limit int) ([]Attempt, error) {
	if limit <= 0 || limit > l.opts.MaxPerSubscription {
		limit = l.opts.MaxPerSubscription
	}
	raw, err := l.rdb.LRange(ctx, l.subKey(subID), 0, int64(limit-1)).Result()
	if err != nil {
		return nil, fmt.Errorf("delivery: attempt log: list: %w", err)
	}
	return decodeAttempts(raw)
}

// Delivery returns what the log knows about one delivery, or ErrDeliveryNotFound.
func (l *AttemptLog) Delivery(ctx context.Context, deliveryID string) (*DeliveryStatus, error) {
	out, err := l.Deliveries(ctx, []string{deliveryID})
	if err != nil {
		return nil, err
	}
	if out[0] == nil {
		return nil, ErrDeliveryNotFound
	}
	return out[0], nil
}

// Deliveries returns what the log knows about each of ids, in one round trip: out[i] is
// ids[i]'s status, nil when the log does not know it (never logged, or expired).
func (l *AttemptLog) Deliveries(ctx context.Context, ids []string) ([]*DeliveryStatus, error) {
	type reads struct {
		h    *redis.MapStringStringCmd
		list *redis.StringSliceCmd
	}
	rs := make([]reads, len(ids))
	_, err := l.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			dk := l.dlvKey(id)
			rs[i] = reads{h: p.HGetAll(ctx, dk), list: p.LRange(ctx, dk+":attempts", 0, -1)}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("delivery: attempt log: delivery: %w", err)
	}
	out := make([]*DeliveryStatus, len(ids))
	for i, r := range rs {
		m := r.h.Val()
		if len(m) == 0 {
			continue
		}
		attempts, err := decodeAttempts(r.list.Val())
		if err != nil {
			return nil, err
		}
		part, _ := strconv.ParseInt(m["partition"], 10, 32)
		off, _ := strconv.ParseInt(m["offset"], 10, 64)
		out[i] = &DeliveryStatus{
			ID: m["id"], SubscriptionID: m["subscription_id"], AccountID: m["account_id"],
			EventID: m["event_id"], EventName: m["event_name"], Status: m["status"],
			Attempts: attempts, Topic: m["topic"], Partition: int32(part), Offset: off,
		}
	}
	return out, nil
}

func decodeAttempts(raw []string) ([]Attempt, error) {
	out := make([]Attempt, 0, len(raw))
	for i, s := range raw {
		var a Attempt
		if err := json.Unmarshal([]byte(s), &a); err != nil {
			return nil, fmt.Errorf("delivery: attempt log: entry %d is corrupt: %w", i, err)
		}
		out = append(out, a)
	}
	return out, nil
}
