package subscriptions

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// indexMetrics are the live index's metrics.
type indexMetrics struct {
	subscriptions prometheus.Gauge
	version       prometheus.Gauge
	stale         prometheus.Gauge
	reloads       *prometheus.CounterVec
	changes       prometheus.Counter
	invalid       prometheus.Counter
}

// Reload causes (label values of eventrouter_subscriptions_index_reloads_total).
const (
	reloadInitial   = "initial"   // first load
	reloadGap       = "gap"       // the change feed lost announcements
	reloadResync    = "resync"    // the periodic version check found the index behind
	reloadReconnect = "reconnect" // the store was unreachable and came back
)

func newIndexMetrics(reg prometheus.Registerer, lastSync func() time.Time) *indexMetrics {
	m := &indexMetrics{
		subscriptions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "eventrouter_subscriptions_index_subscriptions",
			Help: "Subscriptions (enabled or not) in the live index.",
		}),
		version: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "eventrouter_subscriptions_index_version",
			Help: "Store version the live index reflects.",
		}),
		stale: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "eventrouter_subscriptions_index_stale",
			Help: "1 while the store is unreachable and the index serves its last snapshot.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventrouter_subscriptions_index_reloads_total",
			Help: "Full reloads of the live index, by cause (initial, gap, resync, reconnect).",
		}, []string{"cause"}),
		changes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "eventrouter_subscriptions_index_changes_applied_total",
			Help: "Announced changes applied to the live index one by one.",
		}),
		invalid: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "eventrouter_subscriptions_index_invalid_total",
			Help: "Stored subscriptions whose filter does not compile; they never match.",
		}),
	}
	age := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "eventrouter_subscriptions_index_last_sync_age_seconds",
		Help: "Seconds since the index last heard from the store (load, change or version check).",
	}, func() float64 {
		t := lastSync()
		if t.IsZero() {
			return 0
		}
		return time.Since(t).Seconds()
	})
	for _, c := range []string{reloadInitial, reloadGap, reloadResync, reloadReconnect} {
		m.reloads.WithLabelValues(c)
	}
	if reg != nil {
		reg.MustRegister(m.subscriptions, m.version, m.stale, m.reloads, m.changes, m.invalid, age)
	}
	return m
}
