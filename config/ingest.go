package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Values of router.wrong_topic.
const (
	// WrongTopicInvalid sends an event found on another object's ingest topic to the
	// invalid topic with reason wrong_topic (the default: it is a producer's bug).
	WrongTopicInvalid = "invalid"
	// WrongTopicDeliver delivers it anyway; it is still counted and logged.
	WrongTopicDeliver = "deliver"
)

// ObjectTopics parses Topics.IngestObjects ("topic=object" pairs) into topic → the
// objects it carries, in configured order. Entries that do not parse are skipped
// (Validate reports them).
func (t Topics) ObjectTopics() map[string][]string {
	m := make(map[string][]string, len(t.IngestObjects))
	for _, pair := range t.IngestObjects {
		topic, obj, ok := strings.Cut(pair, "=")
		if ok && topic != "" && obj != "" && !slices.Contains(m[topic], obj) {
			m[topic] = append(m[topic], obj)
		}
	}
	return m
}

// IngestTopicOf returns the ingest topic an object's events are produced to: the topic
// topics.ingest_objects maps it to, else the first ingest topic that carries any object
// (one with no mapping), else "".
func (t Topics) IngestTopicOf(object string) string {
	m := t.ObjectTopics()
	for _, topic := range t.Ingest {
		if slices.Contains(m[topic], object) {
			return topic
		}
	}
	for _, topic := range t.Ingest {
		if _, mapped := m[topic]; !mapped {
			return topic
		}
	}
	return ""
}

// validateIngestObjects checks topics.ingest_objects: each entry "topic=object" names
// an ingest topic and an object of the catalogue, and each object has one topic.
func (c Config) validateIngestObjects(p *Problems) {
	objects := map[string]bool{}
	for _, n := range c.Events.Catalogue {
		obj, _, _ := strings.Cut(n, ".")
		objects[obj] = true
	}
	topicOf := map[string]string{}
	for i, pair := range c.Topics.IngestObjects {
		key := fmt.Sprintf("topics.ingest_objects[%d]", i)
		topic, obj, ok := strings.Cut(pair, "=")
		switch {
		case !ok || topic == "" || obj == "":
			p.add(key, strconv.Quote(pair), `must be "topic=object", e.g. "claims.events=claim"`)
		case !slices.Contains(c.Topics.Ingest, topic):
			p.add(key, strconv.Quote(pair), "the topic must be one of topics.ingest "+fmt.Sprint(c.Topics.Ingest))
		case !objects[obj]:
			p.add(key, strconv.Quote(pair), "the object must be one of events.catalogue's ("+strings.Join(sortedKeys(objects), ", ")+")")
		case topicOf[obj] != "" && topicOf[obj] != topic:
			p.add(key, strconv.Quote(pair), "object "+strconv.Quote(obj)+" is already mapped to "+strconv.Quote(topicOf[obj])+": one topic per object")
		default:
			topicOf[obj] = topic
		}
	}
	oneOf(p, "router.wrong_topic", c.Router.WrongTopic, WrongTopicInvalid, WrongTopicDeliver)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
