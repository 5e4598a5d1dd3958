package topics

import (
	"testing"
	"time"
)

func TestRetryTopicNames(t *testing.T) {
	cases := map[time.Duration]string{
		5 * time.Second:               "webhooks.retry.5s",
		5 * time.Minute:               "webhooks.retry.5m",
		2 * time.Hour:                 "webhooks.retry.2h",
		90 * time.Minute:              "webhooks.retry.1h30m",
		250 * time.Millisecond:        "webhooks.retry.250ms",
		24*time.Hour + 30*time.Second: "webhooks.retry.24h30s",
		0:                             "webhooks.retry.0s",
	}
	for d, want := range cases {
		if got := RetryTopic("webhooks.retry.", d); got != want {
			t.Errorf("RetryTopic(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestRetryTopicsDeduplicates(t *testing.T) {
	got := RetryTopics("webhooks.retry.", []time.Duration{5 * time.Second, time.Minute, 5 * time.Second})
	want := []string{"webhooks.retry.5s", "webhooks.retry.1m"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("RetryTopics = %v, want %v", got, want)
	}
}
