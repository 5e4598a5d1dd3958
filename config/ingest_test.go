package config

import (
	"slices"
	"strings"
	"testing"
)

func TestIngestObjectsDefaultsMapEachObjectToItsTopic(t *testing.T) {
	tp := Default().Topics
	for obj, want := range map[string]string{"claim": "claims.events", "contact": "contacts.events"} {
		if got := tp.IngestTopicOf(obj); got != want {
			t.Errorf("IngestTopicOf(%q) = %q, want %q", obj, got, want)
		}
	}
	if got := tp.ObjectTopics(); !slices.Equal(got["claims.events"], []string{"claim"}) || !slices.Equal(got["contacts.events"], []string{"contact"}) {
		t.Errorf("ObjectTopics() = %v", got)
	}
	if Default().Router.WrongTopic != WrongTopicInvalid {
		t.Errorf("router.wrong_topic defaults to %q, want %q", Default().Router.WrongTopic, WrongTopicInvalid)
	}
	// Without a mapping, an object goes to the first ingest topic that carries any.
	tp.IngestObjects = []string{"claims.events=claim"}
	if got := tp.IngestTopicOf("contact"); got != "contacts.events" {
		t.Errorf("IngestTopicOf(contact) with only claims mapped = %q, want contacts.events", got)
	}
}

func TestIngestObjectsProblemsNameTheEntry(t *testing.T) {
	for _, tc := range []struct {
		pairs []string
		key   string
		hint  string
	}{
		{[]string{"claims.events"}, "topics.ingest_objects[0]", `"topic=object"`},
		{[]string{"claims.events=claim", "other.events=contact"}, "topics.ingest_objects[1]", "one of topics.ingest"},
		{[]string{"claims.events=policy"}, "topics.ingest_objects[0]", "claim, contact"},
		{[]string{"claims.events=claim", "contacts.events=claim"}, "topics.ingest_objects[1]", "one topic per object"},
	} {
		cfg := Default()
		cfg.Topics.IngestObjects = tc.pairs
		p, ok := problems(t, cfg.Validate())[tc.key]
		if !ok || !strings.Contains(p.Message, tc.hint) {
			t.Errorf("%v: problem at %s = %+v (found %v), want it to say %q", tc.pairs, tc.key, p, ok, tc.hint)
		}
	}
	cfg := Default()
	cfg.Router.WrongTopic = "drop"
	if _, ok := problems(t, cfg.Validate())["router.wrong_topic"]; !ok {
		t.Error("router.wrong_topic: drop is accepted")
	}
	// Overriding topics.ingest alone is reported, not silently left unchecked.
	t.Setenv("EVENTROUTER_TOPICS_INGEST", "my.claims")
	if _, err := Load(Source{}); err == nil || !strings.Contains(err.Error(), "topics.ingest_objects") {
		t.Errorf("Load with only topics.ingest overridden = %v, want a topics.ingest_objects problem", err)
	}
	t.Setenv("EVENTROUTER_TOPICS_INGEST_OBJECTS", "")
	if _, err := Load(Source{}); err != nil {
		t.Errorf("Load with topics.ingest_objects emptied = %v, want it valid", err)
	}
}
