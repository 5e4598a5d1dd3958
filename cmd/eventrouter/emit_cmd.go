package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/claimable/eventrouter/app"
	"github.com/claimable/eventrouter/events"
	"github.com/claimable/eventrouter/internal/devsamples"
)

func newEmitCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "emit",
		Short: "Produce well-formed events to the ingest topics",
		Long: `Produces events the way an upstream service would (key = account id) to the ingest
topic of their object (claims.events, contacts.events), or to --topic. Either builds
realistic sample events — --event NAME (repeatable; default every catalogue name),
--account, --object-id, --source, --performed-by, --count — or reads events from --file
(one JSON event, a JSON array, or one event per line). Every event is validated before it
is sent; the command waits for every acknowledgement.

  eventrouter emit --brokers 127.0.0.1:19092 --event claim.closed --account acct_demo
  eventrouter emit --count 1000 --rate 200
  eventrouter emit --file events.ndjson`,
		Args: cobra.NoArgs,
		RunE: runEmit,
	}
	f := cmd.Flags()
	f.StringSlice("event", nil, "event name(s); default: every catalogue name")
	f.String("account", "acct_demo", "account id")
	f.String("object-id", "", "claim or contact id (default: generated per event)")
	f.String("source", "", "ui or api (default: alternating)")
	f.String("performed-by", "", "user or API token name (default: sample names)")
	f.Int("count", 1, "rounds: each round emits one event of each --event")
	f.Float64("rate", 0, "events per second (0: as fast as possible)")
	f.String("topic", "", "topic to produce to (default: the ingest topic of the event's object)")
	f.String("file", "", "JSON file of events to send instead of samples")
	return cmd
}

func runEmit(cmd *cobra.Command, _ []string) error {
	cfg, err := loadConfig(cmd, nil)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg)
	if err != nil {
		return err
	}
	cat, err := events.NewCatalogue(cfg.Events.Catalogue)
	if err != nil {
		return err
	}
	parser := events.NewParser(cat, cfg.Events.MaxBytes)
	f := cmd.Flags()
	var evs []*events.Event
	if file, _ := f.GetString("file"); file != "" {
		evs, err = readEvents(file, parser)
	} else {
		evs, err = sampleEvents(cmd, cat)
	}
	if err != nil {
		return err
	}
	cl, err := app.KafkaClient(cfg, log, kgo.RecordRetries(10))
	if err != nil {
		return err
	}
	defer cl.Close()
	topic, _ := f.GetString("topic")
	rate, _ := f.GetFloat64("rate")
	topicOf := func(e *events.Event) string {
		if topic != "" {
			return topic
		}
		return devsamples.TopicFor(e.Object, cfg.Topics)
	}
	ctx, stop := signalContext()
	defer stop()
	start := time.Now()
	n, err := devsamples.Produce(ctx, cl, evs, topicOf, rate)
	fmt.Fprintf(cmd.OutOrStdout(), "emitted %d event(s) in %s\n", n, time.Since(start).Round(time.Millisecond))
	return err
}

func sampleEvents(cmd *cobra.Command, cat *events.Catalogue) ([]*events.Event, error) {
	f := cmd.Flags()
	names, _ := f.GetStringSlice("event")
	if len(names) == 0 {
		names = cat.Names()
	}
	for _, n := range names {
		if !cat.Has(n) {
			return nil, fmt.Errorf("--event %q: not in the catalogue (%s)", n, strings.Join(cat.Names(), ", "))
		}
	}
	account, _ := f.GetString("account")
	objectID, _ := f.GetString("object-id")
	source, _ := f.GetString("source")
	if source != "" && source != events.SourceUI && source != events.SourceAPI {
		return nil, fmt.Errorf("--source %q: must be ui or api", source)
	}
	by, _ := f.GetString("performed-by")
	count, _ := f.GetInt("count")
	if count < 1 {
		return nil, fmt.Errorf("--count %d: must be at least 1", count)
	}
	now := time.Now()
	evs := make([]*events.Event, 0, count*len(names))
	for i := 0; i < count; i++ {
		for _, n := range names {
			id := objectID
			if id == "" {
				id = fmt.Sprintf("%s_%06d", cat.ObjectOf(n), i)
			}
			e := events.Sample(n, account, id, i, now)
			e.ID = fmt.Sprintf("evt_%d_%d_%s", now.UnixNano(), i, n)
			if source != "" {
				e.Source = source
			}
			if by != "" {
				e.PerformedBy = by
			}
			evs = append(evs, e)
		}
	}
	return evs, nil
}

// readEvents reads a JSON event, a JSON array of events, or one event per line, and
// validates each, naming the position of the first invalid one.
func readEvents(path string, p *events.Parser) ([]*events.Event, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var items []json.RawMessage
	trimmed := bytes.TrimSpace(raw)
	switch {
	case bytes.HasPrefix(trimmed, []byte("[")):
		if err := json.Unmarshal(trimmed, &items); err != nil {
			return nil, fmt.Errorf("%s: not a JSON array of events: %w", path, err)
		}
	default:
		sc := bufio.NewScanner(bytes.NewReader(trimmed))
		sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
		for sc.Scan() {
			if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
				items = append(items, append(json.RawMessage(nil), line...))
			}
		}
		if err := sc.Err(); err != nil {
			return nil, err
		}
		if len(items) > 1 || (len(items) == 1 && !json.Valid(items[0])) {
			break
		}
		items = []json.RawMessage{trimmed}
	}
	evs := make([]*events.Event, 0, len(items))
	for i, it := range items {
		e, err := p.Parse(it)
		if err != nil {
			return nil, fmt.Errorf("%s: event %d: %w", path, i+1, err)
		}
		evs = append(evs, e)
	}
	if len(evs) == 0 {
		return nil, fmt.Errorf("%s: no events", path)
	}
	return evs, nil
}
