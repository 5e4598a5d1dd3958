package delivery

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metricsNamespace prefixes every sender metric, including franz-go's (kprom).
const metricsNamespace = "eventrouter_sender"

// metrics is the sender's instrumentation, registered on the Registerer given to New.
//
// Cardinality: labels are bounded sets (reason codes, status classes, tier topics).
// Subscription ids appear only on eventrouter_sender_breaker_open, and only while that
// subscription's circuit is open (the series is deleted when it closes), so a healthy
// fleet exports none and a bad day exports one series per broken endpoint.
type metrics struct {
	attempts     *prometheus.CounterVec   // reason, status_class
	attemptSecs  *prometheus.HistogramVec // status_class
	endToEnd     prometheus.Histogram
	inFlight     prometheus.Gauge
	queued       prometheus.Gauge
	lanes        prometheus.Gauge
	saturated    prometheus.Gauge
	pausedParts  prometheus.Gauge
	pausedSecs   prometheus.Counter
	breakersOpen prometheus.Gauge
	breakerOpen  *prometheus.GaugeVec   // subscription_id, present only while open
	tierLag      *prometheus.GaugeVec   // tier
	backlog      prometheus.Gauge       // deliveries topic, this process's partitions
	retried      *prometheus.CounterVec // tier, reason
	reparked     *prometheus.CounterVec // reason
	dlq          *prometheus.CounterVec // reason
	disabled     *prometheus.CounterVec // reason
	skipped      *prometheus.CounterVec // reason
	invalid      prometheus.Counter
	produceErrs  prometheus.Counter
	commitErrs   prometheus.Counter

	attemptLogDropped prometheus.Counter
	attemptLogBatches prometheus.Histogram

	mu      sync.Mutex
	open    map[string]bool
	nOpen   atomic.Int32 // len(open), readable without mu
	lagByTP map[topicPartition]int64

	// attemptCells caches the attempts/attemptSecs children per (reason, status) so
	// the hot path skips the label hashing of WithLabelValues.
	attemptCells sync.Map // attemptKey → *attemptCell
}

type attemptKey struct {
	reason Reason
	class  string
}

type attemptCell struct {
	count prometheus.Counter
	secs  prometheus.Observer
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	ns := metricsNamespace
	m := &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "attempts_total",
			Help: "HTTP delivery attempts by outcome reason and status class (2xx..5xx, none)."}, []string{"reason", "status_class"}),
		attemptSecs: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "attempt_duration_seconds",
			Help:    "Duration of one HTTP attempt, request start to body read or failure.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15, 30}}, []string{"status_class"}),
		endToEnd: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "end_to_end_seconds",
			Help:    "Event occurred_at to the 2xx that delivered it (includes retries).",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200, 86400}}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "in_flight_requests",
			Help: "HTTP requests in flight in this process (bounded by delivery.max_in_flight)."}),
		queued: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "queued_deliveries",
			Help: "Deliveries fetched and waiting in subscription lanes."}),
		lanes: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "active_lanes",
			Help: "Subscriptions with queued or in-flight deliveries in this process."}),
		saturated: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "saturated_subscriptions",
			Help: "Subscriptions at their queue budget in this process: pausing their partitions, or parking their excess past saturation_park_after."}),
		pausedParts: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "flow_paused_partitions",
			Help: "Partitions whose fetching is paused by flow control (a saturated subscription)."}),
		pausedSecs: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "flow_paused_seconds_total",
			Help: "Time partitions spent paused by flow control, summed over partitions (counted when a pause ends)."}),
		breakersOpen: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "breakers_open",
			Help: "Subscriptions whose circuit breaker is open or half-open."}),
		breakerOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "breaker_open",
			Help: "1 while the subscription's circuit is open; absent when closed."}, []string{"subscription_id"}),
		tierLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "retry_tier_lag_records",
			Help: "Records waiting in a retry tier on this process's partitions (high watermark minus position, at last fetch)."}, []string{"tier"}),
		backlog: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "deliveries_lag_records",
			Help: "Records of the deliveries topic not yet fetched on this process's partitions (high watermark minus position, at last fetch)."}),
		retried: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "retry_parked_total",
			Help: "Deliveries handed to a retry tier (produce acknowledged), by tier and reason."}, []string{"tier", "reason"}),
		reparked: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "retry_reparked_total",
			Help: "Deliveries taken from a retry tier and parked again without an attempt (circuit_open: still open at its probe time; other reasons: a hop), by reason."}, []string{"reason"}),
		dlq: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "dlq_total",
			Help: "Deliveries written to the DLQ (produce acknowledged), by reason."}, []string{"reason"}),
		disabled: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "auto_disabled_total",
			Help: "Subscriptions disabled by the sender: endpoint_gone (410) or failing (persistent failure)."}, []string{"reason"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "skipped_total",
			Help: "Deliveries moved on without calling the endpoint (circuit_open, backpressure, ...)."}, []string{"reason"}),
		invalid: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "invalid_records_total",
			Help: "Records that are not valid delivery records; each goes to the DLQ with reason invalid_record."}),
		produceErrs: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "produce_errors_total",
			Help: "Failed produces to a retry tier or the DLQ (each is retried; the source record stays uncommitted)."}),
		commitErrs: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "commit_errors_total",
			Help: "Failed offset commits (retried at the next commit tick)."}),
		attemptLogDropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "attempt_log_dropped_total",
			Help: "Attempt log entries dropped because the writer's queue was full (Redis slow or down); deliveries are not affected."}),
		attemptLogBatches: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "attempt_log_batch_size",
			Help:    "Attempts written per attempt log batch (one Redis pipeline, one round trip).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 9)}), // 1 … 256 = attemptBatchMax
		open:    map[string]bool{},
		lagByTP: map[topicPartition]int64{},
	}
	for _, c := range []prometheus.Collector{m.attempts, m.attemptSecs, m.endToEnd, m.inFlight, m.queued,
		m.lanes, m.saturated, m.pausedParts, m.pausedSecs, m.breakersOpen, m.breakerOpen, m.tierLag, m.backlog, m.retried, m.reparked, m.dlq, m.disabled, m.skipped,
		m.invalid, m.produceErrs, m.commitErrs, m.attemptLogDropped, m.attemptLogBatches} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// statusClass is "2xx".."5xx", or "none" when no response arrived.
func statusClass(status int) string {
	switch status / 100 {
	case 1:
		return "1xx"
	case 2:
		return "2xx"
	case 3:
		return "3xx"
	case 4:
		return "4xx"
	case 5:
		return "5xx"
	}
	return "none"
}

func (m *metrics) attempt(res Result) {
	k := attemptKey{res.Reason, statusClass(res.Status)}
	v, ok := m.attemptCells.Load(k)
	if !ok {
		v, _ = m.attemptCells.LoadOrStore(k, &attemptCell{
			count: m.attempts.WithLabelValues(string(k.reason), k.class),
			secs:  m.attemptSecs.WithLabelValues(k.class),
		})
	}
	c := v.(*attemptCell)
	c.count.Inc()
	c.secs.Observe(res.Latency.Seconds())
}

// attemptLogBatch records the size of one attempt log batch.
func (m *metrics) attemptLogBatch(attempts int) { m.attemptLogBatches.Observe(float64(attempts)) }

// lanesState records the lanes' gauges after a change.
func (m *metrics) lanesState(queued, active, saturated int) {
	m.queued.Set(float64(queued))
	m.lanes.Set(float64(active))
	m.saturated.Set(float64(saturated))
}

// flowPaused records the partitions paused by flow control and, when a pause ended, how
// long it lasted.
func (m *metrics) flowPaused(paused int, heldFor time.Duration) {
	m.pausedParts.Set(float64(paused))
	if heldFor > 0 {
		m.pausedSecs.Add(heldFor.Seconds())
	}
}

// anyOpen reports whether any circuit is recorded open (cheap: no lock).
func (m *metrics) anyOpen() bool { return m.nOpen.Load() > 0 }

func (m *metrics) delivered(occurred, now time.Time) {
	if !occurred.IsZero() {
		m.endToEnd.Observe(now.Sub(occurred).Seconds())
	}
}

// breaker records a subscription's circuit state after an outcome.
func (m *metrics) breaker(subID string, state BreakerState) {
	m.mu.Lock()
	defer m.mu.Unlock()
	isOpen := state != Closed
	if isOpen == m.open[subID] {
		return
	}
	if isOpen {
		m.open[subID] = true
		m.breakerOpen.WithLabelValues(subID).Set(1)
	} else {
		delete(m.open, subID)
		m.breakerOpen.DeleteLabelValues(subID)
	}
	m.nOpen.Store(int32(len(m.open)))
	m.breakersOpen.Set(float64(len(m.open)))
}

// lag records a partition's backlog at its last fetch (or 0 when revoked): a retry tier's
// under its tier label, the deliveries topic's in deliveries_lag_records.
func (m *metrics) lag(tp topicPartition, n int64, tier bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n <= 0 {
		delete(m.lagByTP, tp)
	} else {
		m.lagByTP[tp] = n
	}
	var sum int64
	for k, v := range m.lagByTP {
		if k.topic == tp.topic {
			sum += v
		}
	}
	if tier {
		m.tierLag.WithLabelValues(tp.topic).Set(float64(sum))
		return
	}
	m.backlog.Set(float64(sum))
}
