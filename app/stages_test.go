package app

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/router"
	"github.com/claimable/eventrouter/subscriptions"
	"github.com/claimable/eventrouter/topics"
)

type noMatches struct{}

func (noMatches) Match(_ *events.Event, dst []*subscriptions.Subscription) []*subscriptions.Subscription {
	return dst
}

// Every router.wrong_topic the configuration accepts builds a router; anything else is
// refused naming the key.
func TestRouterConfigCarriesWrongTopic(t *testing.T) {
	cat, err := events.NewCatalogue(config.DefaultCatalogue)
	if err != nil {
		t.Fatal(err)
	}
	deps := router.Deps{Matcher: noMatches{}, Parser: events.NewParser(cat, 0)}
	for _, v := range []string{config.WrongTopicInvalid, config.WrongTopicDeliver} {
		cfg := config.Default()
		cfg.Router.WrongTopic = v
		if _, err := router.New(RouterConfig(cfg), deps, nil); err != nil {
			t.Errorf("router.wrong_topic %q: %v", v, err)
		}
	}
	cfg := config.Default()
	cfg.Router.WrongTopic = "drop"
	_, err = router.New(RouterConfig(cfg), deps, nil)
	if !errors.Is(err, router.ErrConfig) || !strings.Contains(err.Error(), "router.wrong_topic") {
		t.Fatalf("router.wrong_topic drop: got %v, want an error naming router.wrong_topic", err)
	}
}

// The router reads the configured topics and ingest mapping.
func TestRouterConfigNamesTheConfiguredTopics(t *testing.T) {
	cfg := config.Default()
	cfg.Kafka.InstanceID = "pod-1"
	cfg.Router.Compression = "zstd"
	rc := RouterConfig(cfg)
	if rc.DeliveriesTopic != "webhooks.deliveries" || rc.InvalidTopic != "webhooks.invalid" ||
		strings.Join(rc.IngestTopics, ",") != "claims.events,contacts.events" ||
		strings.Join(rc.TopicObjects["claims.events"], ",") != "claim" || rc.InstanceID != "pod-1" ||
		rc.Group != cfg.Router.Group || rc.MaxPollRecords != cfg.Router.MaxPollRecords || rc.Compression != router.CompressionZstd {
		t.Fatalf("RouterConfig(Default()) = %+v", rc)
	}
}

// topics create makes what the configuration names, with its partitions and retention.
func TestTopicSpecsFollowTheConfiguration(t *testing.T) {
	cfg := config.Default()
	cfg.Topics.Partitions = 7
	cfg.Delivery.RetrySchedule = []time.Duration{5 * time.Second, 5 * time.Minute, 5 * time.Second, 2 * time.Hour}
	specs := TopicSpecs(cfg, false)
	var names []string
	for _, s := range specs {
		names = append(names, s.Name)
		if s.Partitions != 7 || s.Role == topics.RoleIngest {
			t.Errorf("%s: partitions %d role %s", s.Name, s.Partitions, s.Role)
		}
	}
	want := "webhooks.deliveries,webhooks.retry.5s,webhooks.retry.5m,webhooks.retry.2h,webhooks.invalid,webhooks.dlq,webhooks.operational"
	if got := strings.Join(names, ","); got != want {
		t.Errorf("specs = %s\nwant    %s", got, want)
	}
	if n := len(TopicSpecs(cfg, true)); n != len(specs)+len(cfg.Topics.Ingest) {
		t.Errorf("with ingest: %d specs, want %d", n, len(specs)+len(cfg.Topics.Ingest))
	}
}

// Every router setting the configuration has reaches the router: a router.Config field
// left zero by RouterConfig would silently take the router's built-in default.
func TestRouterConfigLeavesNoFieldBehind(t *testing.T) {
	cfg := config.Default()
	cfg.Kafka.InstanceID = "pod-1"
	cfg.Router.Workers = 3 // default 0: GOMAXPROCS
	rc := reflect.ValueOf(RouterConfig(cfg))
	notConfigured := map[string]bool{"ReadyPoll": true, "TopicWaitInterval": true} // tests' knobs
	for i := range rc.NumField() {
		if name := rc.Type().Field(i).Name; !notConfigured[name] && rc.Field(i).IsZero() {
			t.Errorf("router.Config.%s is not set from the configuration", name)
		}
	}
}

// Likewise every topics setting reaches topics.Config.
func TestTopicsConfigLeavesNoFieldBehind(t *testing.T) {
	tc := reflect.ValueOf(TopicsConfig(config.Default().Topics))
	for i := range tc.NumField() {
		if tc.Field(i).IsZero() {
			t.Errorf("topics.Config.%s is not set from the configuration", tc.Type().Field(i).Name)
		}
	}
}
