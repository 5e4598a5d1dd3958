package tracing

import "go.opentelemetry.io/otel/attribute"

// Span names.
const (
	SpanRoute   = "route"   // the router, once per ingest record
	SpanAttempt = "attempt" // the sender, once per HTTP attempt of a delivery
)

// Span attributes (docs/tracing.md lists them). The messaging.* and http.* keys follow
// OpenTelemetry's semantic conventions; the eventrouter.* keys are ours.
const (
	AttrMessagingSystem    = attribute.Key("messaging.system") // "kafka"
	AttrTopic              = attribute.Key("messaging.destination.name")
	AttrPartition          = attribute.Key("messaging.destination.partition.id")
	AttrOffset             = attribute.Key("messaging.kafka.offset")
	AttrEventName          = attribute.Key("eventrouter.event.name")
	AttrEventID            = attribute.Key("eventrouter.event.id")
	AttrAccountID          = attribute.Key("eventrouter.account.id")
	AttrFanout             = attribute.Key("eventrouter.fanout")
	AttrInvalidReason      = attribute.Key("eventrouter.invalid.reason")
	AttrSubscriptionID     = attribute.Key("eventrouter.subscription.id")
	AttrWebhookID          = attribute.Key("eventrouter.webhook.id")
	AttrAttempt            = attribute.Key("eventrouter.attempt")
	AttrOutcome            = attribute.Key("eventrouter.outcome")
	AttrHTTPResponseStatus = attribute.Key("http.response.status_code")
)

// Tracer names (instrumentation scopes).
const (
	ScopeRouter   = "github.com/claimable/eventrouter/router"
	ScopeDelivery = "github.com/claimable/eventrouter/delivery"
)
