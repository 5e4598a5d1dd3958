// Package chaos is eventrouter's fault suite (`make chaos`): the roles run as real
// processes against the real Kafka broker and redis-server of `make services-up`, under
// load, while the suite kills them, stops the broker, stops Redis, makes endpoints fail
// or answer 410, and mixes poison records into the ingest topic.
//
// Every scenario does expected-set accounting: each (event, subscription) pair the load
// generator produced is expected at the receiver under its deterministic delivery id
// (events.DeliveryID, which is also the webhook-id header). A scenario passes only when
// every expected id arrived at least once (or, where the scenario says so, sits in the
// DLQ); duplicates are counted and reported, never hidden.
//
// The tests carry the build tag `chaos` and are run by
//
//	make services-up
//	go test -tags chaos -count=1 -p 1 -timeout 30m -v ./chaos
//
// CHAOS_SHORT=1 shortens every scenario (the CI variant, about 8 minutes on two cores).
// CHAOS_LOGS=<dir> keeps the role processes' logs there instead of in a temp dir.
// CHAOS_RESULTS=<file> appends one JSON line per scenario with its figures.
// The scenarios that stop the broker and Redis restart them in t.Cleanup, so a failing
// test still leaves the services running; they use scripts/kafka.sh and scripts/redis.sh.
// The multi-broker scenarios (cluster_*_test.go, build tags `chaos cluster`) run against
// the 3-node cluster of scripts/kafka-cluster.sh instead: `make chaos-cluster` starts it,
// runs them and stops it; EVENTROUTER_TEST_KAFKA_CLUSTER names its brokers.
// Results and how to read them: docs/reliability.md.
package chaos
