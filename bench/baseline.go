package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/subscriptions"
)

// PassthroughResult is the raw Kafka baseline: records consumed from topic A and
// produced, same key and bytes, to topic B by a plain franz-go client (no transaction,
// no parsing, no logic); latency is from the record's produce to A until it is read
// back from B. One warm-up record per key, then the run's lead-in (Config.LeadIn), are
// passed through before timing starts, so start-up is not in the figures.
type PassthroughResult struct {
	RecordsIn     int         `json:"records_in"`
	RecordsPerSec float64     `json:"records_per_s"`
	Latency       Percentiles `json:"latency"`
}

// runPassthrough produces the same event bytes to a at the run's pace for d, copies a →
// b, and reads b back, then returns the figures.
func runPassthrough(ctx context.Context, c Config, seeds []string, a, b string, gen *eventGen, d time.Duration) (PassthroughResult, error) {
	common := []kgo.Opt{kgo.SeedBrokers(seeds...)}
	prod, err := kgo.NewClient(append(common, kgo.ProducerLinger(c.IngestLinger))...) // as the pipeline's generator
	if err != nil {
		return PassthroughResult{}, err
	}
	defer prod.Close()
	copier, err := kgo.NewClient(append(common, kgo.ConsumeTopics(a), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		return PassthroughResult{}, err
	}
	defer copier.Close()
	reader, err := kgo.NewClient(append(common, kgo.ConsumeTopics(b), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		return PassthroughResult{}, err
	}
	defer reader.Close()

	bg, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // the passthrough: consume a, produce the same record to b
		defer wg.Done()
		for bg.Err() == nil {
			fs := copier.PollFetches(bg)
			fs.EachRecord(func(r *kgo.Record) {
				copier.Produce(bg, &kgo.Record{Topic: b, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}, nil)
			})
		}
	}()
	var read atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	go func() {
		defer wg.Done()
		for bg.Err() == nil {
			fs := reader.PollFetches(bg)
			now := time.Now()
			mu.Lock()
			fs.EachRecord(func(r *kgo.Record) { lat = append(lat, now.Sub(r.Timestamp)) })
			mu.Unlock()
			read.Add(int64(fs.NumRecords()))
		}
	}()

	// Warm up before timing, on every partition the run will use (one record per
	// account key, as the pipeline is warmed with one event per account): the producer,
	// the copier and the reader each find every partition's leader and offset, so a
	// partition's start-up is not counted as latency.
	accounts := c.Accounts
	warm := make([]string, accounts)
	for i := range warm {
		warm[i] = accountID(gen.run, i)
	}
	if err := warmPassthrough(ctx, prod, a, warm, &read); err != nil {
		return PassthroughResult{}, err
	}
	// The same untimed lead-in as the pipeline's run (Config.LeadIn): load at the run's
	// pace, read back in full before the timed window starts.
	if c.LeadIn > 0 {
		read.Store(0)
		p := pacer{start: time.Now(), rate: c.Rate, window: c.Window,
			outstanding: func(n int) int { return n - int(read.Load()) }}
		st, err := produceLoop(ctx, prod, c.LeadIn, p, func(n int, now time.Time) *kgo.Record {
			e := gen.event(n, accountID(gen.run, n%accounts), now)
			return &kgo.Record{Topic: a, Key: []byte(e.AccountID), Value: e.Marshal(), Timestamp: now}
		})
		if err != nil {
			return PassthroughResult{}, fmt.Errorf("lead-in: %w", err)
		}
		deadline := time.Now().Add(passthroughWarmUp)
		for int(read.Load()) < st.Produced {
			if time.Now().After(deadline) {
				return PassthroughResult{}, fmt.Errorf("lead-in records not passed through within %s (%d of %d)",
					passthroughWarmUp, read.Load(), st.Produced)
			}
			if err := sleepCtx(ctx, 10*time.Millisecond); err != nil {
				return PassthroughResult{}, err
			}
		}
	}
	mu.Lock()
	lat = lat[:0]
	mu.Unlock()
	read.Store(0)

	p := pacer{start: time.Now(), rate: c.Rate, window: c.Window,
		outstanding: func(n int) int { return n - int(read.Load()) }}
	st, err := produceLoop(ctx, prod, d, p, func(n int, now time.Time) *kgo.Record {
		e := gen.event(n, accountID(gen.run, n%accounts), now)
		return &kgo.Record{Topic: a, Key: []byte(e.AccountID), Value: e.Marshal(), Timestamp: now}
	})
	if err != nil {
		return PassthroughResult{}, err
	}
	// Count what was copied within the produce window, then let the rest drain briefly.
	copied := int(read.Load())
	deadline := time.Now().Add(10 * time.Second)
	for int(read.Load()) < st.Produced && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	return PassthroughResult{
		RecordsIn:     st.Produced,
		RecordsPerSec: float64(copied) / st.Elapsed.Seconds(),
		Latency:       Summarise(lat),
	}, nil
}

// passthroughWarmUp bounds the wait for the warm-up record to come back.
const passthroughWarmUp = 30 * time.Second

// warmPassthrough produces one record to a for each key and waits until the reader has
// read them all back from b (the copier keeps the key, so they land on the same
// partitions of b).
func warmPassthrough(ctx context.Context, prod *kgo.Client, a string, keys []string, read *atomic.Int64) error {
	recs := make([]*kgo.Record, len(keys))
	for i, k := range keys {
		recs[i] = &kgo.Record{Topic: a, Key: []byte(k), Value: []byte("{}")}
	}
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("warm-up produce: %w", err)
	}
	deadline := time.Now().Add(passthroughWarmUp)
	for read.Load() < int64(len(recs)) {
		if time.Now().After(deadline) {
			return fmt.Errorf("warm-up records not passed through within %s (%d of %d)", passthroughWarmUp, read.Load(), len(recs))
		}
		if err := sleepCtx(ctx, 10*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// HTTPResult is the raw HTTP baseline: plain Go POSTs of the same signed bodies to the
// same receiver, at the same concurrency as the sender.
type HTTPResult struct {
	Concurrency int         `json:"concurrency"`
	Posts       int         `json:"posts"`
	PostsPerSec float64     `json:"posts_per_s"`
	Failed      int         `json:"failed"`
	Latency     Percentiles `json:"latency"`
}

// runHTTP POSTs bodies of gen's events, signed with a fresh secret registered at the
// receiver, from c.httpConcurrency() workers for d, at c.Rate×c.Fanout posts per second
// or flat out. Latency is from just before the request is built (the event's
// occurred_at) to the receiver's arrival stamp, like the pipeline's.
func runHTTP(ctx context.Context, c Config, ep *endpoint, gen *eventGen, d time.Duration) (HTTPResult, error) {
	const path = "/baseline"
	secret := subscriptions.NewSecret()
	if err := ep.Register(map[string]string{path: secret}); err != nil {
		return HTTPResult{}, err
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return HTTPResult{}, err
	}
	ledger := NewLedger(nil)
	ep.ledger.Store(ledger)
	defer ep.ledger.Store(nil)

	workers := c.httpConcurrency()
	tr := &http.Transport{MaxIdleConns: workers, MaxIdleConnsPerHost: workers, Proxy: nil}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, Timeout: 15 * time.Second}
	url := "http://127.0.0.1:" + strconv.Itoa(ep.Port) + path

	runCtx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	var seq, failed atomic.Int64
	rate := c.Rate * float64(c.Fanout)
	p := pacer{start: start, rate: rate, window: 1 << 30, outstanding: func(int) int { return 0 }}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := int(seq.Add(1) - 1)
				if !p.wait(runCtx, n) {
					return
				}
				now := time.Now()
				e := gen.event(n, accountID(gen.run, n%c.Accounts), now)
				id := events.DeliveryID(e.ID, "baseline")
				ledger.Expect(id, "baseline", false)
				body := events.Render(e)
				sig, err := wh.Sign(id, now, body)
				if err != nil {
					failed.Add(1)
					continue
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
				req.Header.Set("content-type", "application/json")
				req.Header.Set("webhook-id", id)
				req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
				req.Header.Set("webhook-signature", sig)
				resp, err := cl.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode >= 300 {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cnt := ledger.Counts()
	lat, _ := ledger.Latencies()
	if cnt.BadSig > 0 {
		return HTTPResult{}, fmt.Errorf("bench: http baseline: %d signatures failed verification", cnt.BadSig)
	}
	return HTTPResult{
		Concurrency: workers,
		Posts:       cnt.Delivered,
		PostsPerSec: float64(cnt.Delivered) / elapsed.Seconds(),
		Failed:      int(failed.Load()),
		Latency:     lat,
	}, nil
}
