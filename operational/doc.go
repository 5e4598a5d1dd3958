// Package operational publishes eventrouter's operational events (subscription.disabled,
// subscription.recovered, delivery.exhausted, endpoint.failing; events.OpEvent) to the
// operational topic, and forwards them as deliveries to the subscriptions of the same
// account that name them, so they are signed, retried and held like any webhook. See
// docs/operational-events.md.
package operational

// metricsNamespace prefixes this package's metrics.
const metricsNamespace = "eventrouter_operational"
