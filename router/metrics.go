package router

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/claimable/eventrouter/events"
)

// namespace prefixes every router metric, including franz-go's kprom client metrics.
const namespace = "eventrouter_router"

// Reasons a transaction was aborted, the label of transactions_aborted_total.
const (
	abortRebalance    = "rebalance"      // End found the group rebalanced: the session rewound
	abortProduceError = "produce_error"  // a record could not be produced: aborted, retried
	abortSession      = "session_failed" // Begin/End failed (e.g. broker unreachable): a new session resumes
)

// metrics is the router's Prometheus instrumentation. Counters of outcomes (consumed,
// invalid, unmatched, produced) move only when their transaction commits, so an
// aborted and re-processed batch is never counted twice.
type metrics struct {
	consumed     *prometheus.CounterVec // by ingest topic
	invalid      *prometheus.CounterVec // by reason
	wrongTopic   *prometheus.CounterVec // by ingest topic
	unmatched    prometheus.Counter
	produced     *prometheus.CounterVec // deliveries, by event name
	fanout       prometheus.Histogram
	batch        prometheus.Histogram
	commit       prometheus.Histogram
	aborted      *prometheus.CounterVec // by abort reason
	fetchErrors  *prometheus.CounterVec // by topic
	partitionLag *prometheus.GaugeVec   // by topic, partition
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		consumed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "events_consumed_total",
			Help: "Ingest records consumed and committed, by topic.",
		}, []string{"topic"}),
		invalid: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "events_invalid_total",
			Help: "Ingest records sent to the invalid topic, by reason code.",
		}, []string{"reason"}),
		wrongTopic: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "events_wrong_topic_total",
			Help: "Valid events found on an ingest topic that carries other objects (topics.ingest_objects), " +
				"by that topic; sent to the invalid topic or delivered, as router.wrong_topic says.",
		}, []string{"topic"}),
		unmatched: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "events_unmatched_total",
			Help: "Valid events that matched no subscription (disabled ones included: their deliveries are held).",
		}),
		produced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "deliveries_produced_total",
			Help: "Delivery records committed to the deliveries topic, by event name.",
		}, []string{"event_name"}),
		fanout: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "fanout_size",
			Help:    "Subscriptions matched per valid event.",
			Buckets: []float64{0, 1, 2, 3, 5, 10, 20, 50, 100},
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "batch_duration_seconds",
			Help:    "Time from Begin to a committed End of one polled batch.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "transaction_commit_seconds",
			Help:    "Time spent in End (flush, offset commit, EndTxn) of committed transactions.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}),
		aborted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "transactions_aborted_total",
			Help: "Transactions aborted and re-processed from the committed offsets, by reason.",
		}, []string{"reason"}),
		fetchErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "fetch_errors_total",
			Help: "Fetch errors reported by the consumer, by topic.",
		}, []string{"topic"}),
		partitionLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "partition_lag",
			Help: "Records between the last fetched offset and the partition's high watermark, " +
				"per owned ingest partition, as of the last fetch.",
		}, []string{"topic", "partition"}),
	}
	for _, c := range []prometheus.Collector{
		m.consumed, m.invalid, m.wrongTopic, m.unmatched, m.produced, m.fanout, m.batch, m.commit,
		m.aborted, m.fetchErrors, m.partitionLag,
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, r := range events.Reasons {
		m.invalid.WithLabelValues(string(r))
	}
	m.aborted.WithLabelValues(abortRebalance)
	m.aborted.WithLabelValues(abortProduceError)
	m.aborted.WithLabelValues(abortSession)
	return m, nil
}

// tally is one batch's outcome, applied to the metrics only when the batch commits.
type tally struct {
	consumed   map[string]int // by topic
	invalid    map[string]int // by reason
	wrongTopic map[string]int // by ingest topic
	produced   map[string]int // by event name
	unmatched  int
	fanouts    []int
}

func newTally() *tally {
	return &tally{consumed: map[string]int{}, invalid: map[string]int{}, wrongTopic: map[string]int{}, produced: map[string]int{}}
}

func (m *metrics) committed(t *tally, batch, commit time.Duration) {
	for k, n := range t.consumed {
		m.consumed.WithLabelValues(k).Add(float64(n))
	}
	for k, n := range t.invalid {
		m.invalid.WithLabelValues(k).Add(float64(n))
	}
	for k, n := range t.wrongTopic {
		m.wrongTopic.WithLabelValues(k).Add(float64(n))
	}
	for k, n := range t.produced {
		m.produced.WithLabelValues(k).Add(float64(n))
	}
	m.unmatched.Add(float64(t.unmatched))
	for _, n := range t.fanouts {
		m.fanout.Observe(float64(n))
	}
	m.batch.Observe(batch.Seconds())
	m.commit.Observe(commit.Seconds())
}

func (m *metrics) abortedTxn(reason string) { m.aborted.WithLabelValues(reason).Inc() }

func (m *metrics) fetchError(topic string) { m.fetchErrors.WithLabelValues(topic).Inc() }

// lag records how far the last fetched record of a partition is behind its high
// watermark. kprom has no group lag; this is the consumer's own view, with no extra
// requests. `eventrouter topics describe` shows the committed lag.
func (m *metrics) lag(topic string, partition int32, highWatermark, lastOffset int64) {
	m.partitionLag.WithLabelValues(topic, strconv.Itoa(int(partition))).Set(float64(max(0, highWatermark-lastOffset-1)))
}

// forget drops the lag series of partitions this instance no longer owns.
func (m *metrics) forget(parts map[string][]int32) {
	for topic, ps := range parts {
		for _, p := range ps {
			m.partitionLag.DeleteLabelValues(topic, strconv.Itoa(int(p)))
		}
	}
}
