package topics

import (
	"strconv"
	"time"
)

// RetryTopic names the retry tier whose fixed delay is d: prefix + the delay written
// short, e.g. "webhooks.retry.5s", "webhooks.retry.5m", "webhooks.retry.2h",
// "webhooks.retry.1h30m", "webhooks.retry.250ms".
func RetryTopic(prefix string, d time.Duration) string {
	return prefix + shortDuration(d)
}

// RetryTopics names every tier of the schedule (prefix + delay, see RetryTopic), in
// schedule order, without duplicates.
func RetryTopics(prefix string, schedule []time.Duration) []string {
	seen := make(map[string]bool, len(schedule))
	out := make([]string, 0, len(schedule))
	for _, d := range schedule {
		name := RetryTopic(prefix, d)
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	return out
}

// shortDuration writes d without zero units: 5m rather than time.Duration's "5m0s".
func shortDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	if d%time.Second != 0 {
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	}
	var out []byte
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.unit; n > 0 {
			out = strconv.AppendInt(out, int64(n), 10)
			out = append(out, u.name...)
			d -= n * u.unit
		}
	}
	return string(out)
}
