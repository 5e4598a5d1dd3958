package replay

import "github.com/prometheus/client_golang/prometheus"

// metrics counts what replay jobs did, as of their checkpoints (so a resumed stretch is
// counted again only if it was replayed again).
type metrics struct {
	read     prometheus.Counter
	skipped  *prometheus.CounterVec // by reason
	produced prometheus.Counter
	finished *prometheus.CounterVec // by final state of a run
	resumed  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns = "eventrouter_replay"
	m := &metrics{
		read: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "records_read_total",
			Help: "Ingest records read by replay jobs (dry runs included)."}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "records_skipped_total",
			Help: "Ingest records or deliveries a replay skipped, by reason (invalid event, too_large)."}, []string{"reason"}),
		produced: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "deliveries_produced_total",
			Help: "Deliveries replay jobs produced and Kafka acknowledged (not dry runs)."}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "runs_total",
			Help: "Replay job runs that ended, by state: done, failed, stopped."}, []string{"state"}),
		resumed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "resumed_total",
			Help: "Background replay jobs this process took over after the process running them stopped or died."}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.read, m.skipped, m.produced, m.finished, m.resumed} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// checkpointed counts the progress between two checkpoints of a job.
func (m *metrics) checkpointed(prev, cur *Job) {
	m.read.Add(float64(cur.Read - prev.Read))
	for k, v := range cur.Skipped {
		if d := v - prev.Skipped[k]; d > 0 {
			m.skipped.WithLabelValues(k).Add(float64(d))
		}
	}
	if !cur.Spec.DryRun {
		m.produced.Add(float64(cur.Deliveries - prev.Deliveries))
	}
}
