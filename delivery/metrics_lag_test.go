package delivery

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func gaugeValue(t *testing.T, g prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}

func TestLagGaugesSeparateDeliveriesFromTiers(t *testing.T) {
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	m.lag(topicPartition{"webhooks.deliveries", 0}, 40, false)
	m.lag(topicPartition{"webhooks.deliveries", 1}, 2, false)
	m.lag(topicPartition{"webhooks.retry.5s", 0}, 7, true)
	if got := gaugeValue(t, m.backlog); got != 42 {
		t.Fatalf("deliveries lag = %v, want 42 (summed over partitions)", got)
	}
	if got := gaugeValue(t, m.tierLag.WithLabelValues("webhooks.retry.5s")); got != 7 {
		t.Fatalf("tier lag = %v, want 7", got)
	}
	m.lag(topicPartition{"webhooks.deliveries", 0}, 0, false) // revoked
	if got := gaugeValue(t, m.backlog); got != 2 {
		t.Fatalf("deliveries lag after revoking partition 0 = %v, want 2", got)
	}
}
