package topics

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// LagExporterConfig configures a LagExporter.
type LagExporterConfig struct {
	// Groups are measured each Interval (the router's, the sender's and the operational forwarder's groups).
	Groups []string
	// Interval between measurements; default 15 s.
	Interval time.Duration
	// Timeout bounds one measurement; default Interval.
	Timeout time.Duration
}

// LagExporter exports consumer group lag from committed offsets (see Lag) as metrics:
//
//   - eventrouter_group_lag_records{group,topic}: records the group has yet to
//     consume; transaction markers and aborted records do not count, so an idle,
//     fully consumed topic reads 0;
//   - eventrouter_group_members{group}: members of the group now (0: nobody consumes);
//   - eventrouter_group_lag_updated_timestamp_seconds: the last successful
//     measurement (an alert on its age catches an exporter that cannot reach Kafka).
//
// Every role runs one, so the lag of a group whose members are all stalled or dead is
// still exported by the other roles; aggregate with max by (group, topic), not sum.
type LagExporter struct {
	cfg LagExporterConfig
	cl  *kgo.Client
	log *zap.Logger

	lag     *prometheus.GaugeVec
	members *prometheus.GaugeVec
	updated prometheus.Gauge
	seen    map[[2]string]bool // exported (group, topic) series, to drop vanished ones
}

// NewLagExporter registers the metrics on reg; Run measures with cl, which it does not
// close.
func NewLagExporter(cfg LagExporterConfig, cl *kgo.Client, reg prometheus.Registerer, log *zap.Logger) (*LagExporter, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 15 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = cfg.Interval
	}
	e := &LagExporter{cfg: cfg, cl: cl, log: log, seen: map[[2]string]bool{},
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "eventrouter_group_lag_records",
			Help: "Records a consumer group has yet to consume, from its committed offsets (transaction markers and aborted records not counted)."},
			[]string{"group", "topic"}),
		members: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "eventrouter_group_members",
			Help: "Members of the consumer group at the last measurement."}, []string{"group"}),
		updated: prometheus.NewGauge(prometheus.GaugeOpts{Name: "eventrouter_group_lag_updated_timestamp_seconds",
			Help: "Unix time of the last successful group lag measurement."}),
	}
	for _, c := range []prometheus.Collector{e.lag, e.members, e.updated} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("topics: register lag metrics: %w", err)
		}
	}
	return e, nil
}

// Run measures at once and then every Interval until ctx ends; it returns nil.
// Failures are logged and leave the previous values (and the updated timestamp) as
// they were.
func (e *LagExporter) Run(ctx context.Context) error {
	t := time.NewTicker(e.cfg.Interval)
	defer t.Stop()
	for {
		e.Measure(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Measure takes one measurement and updates the metrics.
func (e *LagExporter) Measure(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	lags, err := Lag(ctx, e.cl, e.cfg.Groups...)
	if err != nil {
		if ctx.Err() == nil {
			e.log.Warn("group lag measurement failed", zap.Error(err))
		}
		return
	}
	now := map[[2]string]bool{}
	ok := true
	for _, g := range lags {
		if g.Err != nil {
			ok = false
			e.log.Warn("group lag measurement failed", zap.String("group", g.Group), zap.Error(g.Err))
			for k := range e.seen {
				if k[0] == g.Group {
					now[k] = true // keep the last value rather than a misleading absence
				}
			}
			continue
		}
		e.members.WithLabelValues(g.Group).Set(float64(g.Members))
		for _, tl := range g.Topics {
			e.lag.WithLabelValues(g.Group, tl.Topic).Set(float64(tl.Lag))
			now[[2]string{g.Group, tl.Topic}] = true
		}
	}
	for k := range e.seen {
		if !now[k] {
			e.lag.DeleteLabelValues(k[0], k[1])
		}
	}
	e.seen = now
	if ok {
		e.updated.SetToCurrentTime()
	}
}
