package topics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func testConfig() Config {
	return Config{
		Ingest:            []string{"claims.events", "contacts.events"},
		Deliveries:        "webhooks.deliveries",
		Invalid:           "webhooks.invalid",
		DLQ:               "webhooks.dlq",
		Operational:       "webhooks.operational",
		RetryPrefix:       "webhooks.retry.",
		Partitions:        3,
		ReplicationFactor: 1,
		Retention:         7 * 24 * time.Hour,
		DLQRetention:      14 * 24 * time.Hour,
	}
}

var testSchedule = []time.Duration{5 * time.Second, 5 * time.Minute, 24 * time.Hour}

func newCluster(t *testing.T, opts ...kfake.Opt) (*kfake.Cluster, *kgo.Client, *kadm.Client) {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return c, cl, kadm.NewClient(cl)
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestSpecsCoverEveryTopicWithRetentions(t *testing.T) {
	cfg := testConfig()
	specs := Specs(cfg, testSchedule, false)
	var names []string
	byName := map[string]Spec{}
	for _, s := range specs {
		names = append(names, s.Name)
		byName[s.Name] = s
	}
	want := []string{"webhooks.deliveries", "webhooks.retry.5s", "webhooks.retry.5m", "webhooks.retry.24h", "webhooks.invalid", "webhooks.dlq", "webhooks.operational"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("topics = %v, want %v", names, want)
	}
	for _, s := range specs {
		if s.Partitions != 3 || s.ReplicationFactor != 1 || s.Configs["cleanup.policy"] != "delete" {
			t.Errorf("%s: partitions %d rf %d configs %v", s.Name, s.Partitions, s.ReplicationFactor, s.Configs)
		}
	}
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	if got := byName["webhooks.dlq"].Configs["retention.ms"]; got != ms(cfg.DLQRetention) {
		t.Errorf("dlq retention.ms = %s, want %s", got, ms(cfg.DLQRetention))
	}
	if got := byName["webhooks.deliveries"].Configs["retention.ms"]; got != ms(cfg.Retention) {
		t.Errorf("deliveries retention.ms = %s, want %s", got, ms(cfg.Retention))
	}

	withIngest := Specs(cfg, testSchedule, true)
	if len(withIngest) != len(specs)+len(cfg.Ingest) || withIngest[0].Name != cfg.Ingest[0] || withIngest[0].Role != RoleIngest {
		t.Fatalf("includeIngest: got %d specs starting %q", len(withIngest), withIngest[0].Name)
	}
}

func TestSpecsKeepRetryRecordsUntilDue(t *testing.T) {
	cfg := testConfig()
	cfg.Retention = time.Hour
	for _, s := range Specs(cfg, []time.Duration{24 * time.Hour}, false) {
		if s.Role == RoleRetry && s.Configs["retention.ms"] != "172800000" {
			t.Fatalf("24h tier with 1h retention: retention.ms = %s, want 48h", s.Configs["retention.ms"])
		}
	}
}

func TestCreateIsIdempotentAndWarnsOnPartitionMismatch(t *testing.T) {
	c, _, adm := newCluster(t)
	ctx := testContext(t)
	cfg := testConfig()
	specs := Specs(cfg, testSchedule, false)
	// The DLQ already exists with the wrong partition count.
	if err := c.CreateTopic(cfg.DLQ, 1, nil); err != nil {
		t.Fatal(err)
	}

	res, err := Create(ctx, adm, specs)
	if err != nil {
		t.Fatalf("first Create: %v", err)
	}
	for _, r := range res {
		switch r.Topic {
		case cfg.DLQ:
			if r.Status != StatusExists || r.Partitions != 1 || !strings.Contains(r.Warning, "1 partitions") {
				t.Errorf("dlq: %+v, want exists with a partition warning", r)
			}
		default:
			if r.Status != StatusCreated || r.Warning != "" {
				t.Errorf("%s: %+v, want created", r.Topic, r)
			}
		}
	}
	details, err := adm.ListTopics(ctx, cfg.Deliveries)
	if err != nil || len(details[cfg.Deliveries].Partitions) != 3 {
		t.Fatalf("deliveries topic after Create: %v %v", details, err)
	}

	res, err = Create(ctx, adm, specs)
	if err != nil {
		t.Fatalf("second Create: %v", err)
	}
	for _, r := range res {
		if r.Status != StatusExists {
			t.Errorf("second Create: %s is %s, want exists", r.Topic, r.Status)
		}
		if r.Topic != cfg.DLQ && (r.Warning != "" || r.Partitions != 3) {
			t.Errorf("second Create: %+v", r)
		}
	}
}

func TestCreateReportsFailuresByTopic(t *testing.T) {
	c, _, adm := newCluster(t)
	c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.CreateTopics}, Topic: "bad.topic", Err: kerr.PolicyViolation, Count: -1})
	specs := []Spec{{Name: "ok.topic", Partitions: 1, ReplicationFactor: 1}, {Name: "bad.topic", Partitions: 1, ReplicationFactor: 1}}
	res, err := Create(testContext(t), adm, specs)
	if err == nil || !strings.Contains(err.Error(), "bad.topic") || !errors.Is(err, kerr.PolicyViolation) {
		t.Fatalf("err = %v, want one naming the bad topic", err)
	}
	if res[0].Status != StatusCreated || res[1].Status != StatusFailed || res[1].Err == nil {
		t.Fatalf("results = %+v", res)
	}
}

func TestDescribeReportsPartitionsMissingTopicsAndLag(t *testing.T) {
	c, _, adm := newCluster(t)
	ctx := testContext(t)
	cfg := testConfig()
	specs := Specs(cfg, testSchedule[:1], true)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// Create everything but the DLQ.
	notDLQ := slices.DeleteFunc(slices.Clone(specs), func(s Spec) bool { return s.Name == cfg.DLQ })
	if _, err := Create(ctx, adm, notDLQ); err != nil {
		t.Fatal(err)
	}
	ingest := cfg.Ingest[0]
	for i := range 10 {
		r := &kgo.Record{Topic: ingest, Partition: 0, Value: []byte{byte(i)}}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	const group = "g-describe"
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: ingest, Partition: 0, At: 4, LeaderEpoch: -1})
	if _, err := adm.CommitOffsets(ctx, group, offs); err != nil {
		t.Fatal(err)
	}

	rep, err := Describe(ctx, cl, specs, []string{group})
	if err != nil {
		t.Fatal(err)
	}
	for _, ts := range rep.Topics {
		wantExists := ts.Name != cfg.DLQ
		if ts.Exists != wantExists || (wantExists && ts.Partitions != 3) || ts.Err != "" {
			t.Errorf("topic %+v", ts)
		}
	}
	if len(rep.Groups) != 1 || rep.Groups[0].Err != "" {
		t.Fatalf("groups = %+v", rep.Groups)
	}
	var lag int64 = -1
	for _, l := range rep.Groups[0].Lag {
		if l.Topic == ingest {
			lag = l.Lag
		}
	}
	if lag != 6 {
		t.Fatalf("lag on %s = %d, want 6 (10 produced, 4 committed); report %+v", ingest, lag, rep.Groups[0])
	}

	var buf bytes.Buffer
	if err := rep.Print(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"TOPIC", cfg.Deliveries, "missing", "GROUP", group, ingest} {
		if !strings.Contains(out, want) {
			t.Errorf("printed report lacks %q:\n%s", want, out)
		}
	}
	// Columns are aligned: every topic row starts its ROLE column at the same offset.
	lines := strings.Split(out, "\n")
	col := strings.Index(lines[0], "ROLE")
	for _, ln := range lines[1 : 1+len(rep.Topics)] {
		if len(ln) <= col || ln[col-1] != ' ' || ln[col] == ' ' {
			t.Errorf("misaligned row %q (ROLE at %d)", ln, col)
		}
	}
}

func TestCreateRefusesReplicationFactorAboveBrokers(t *testing.T) {
	for _, tc := range []struct {
		brokers, rf int
		refused     bool
	}{
		{brokers: 1, rf: 3, refused: true},
		{brokers: 3, rf: 4, refused: true},
		{brokers: 3, rf: 3},
		{brokers: 1, rf: 1},
	} {
		t.Run(fmt.Sprintf("rf%d-on-%d-brokers", tc.rf, tc.brokers), func(t *testing.T) {
			_, _, adm := newCluster(t, kfake.NumBrokers(tc.brokers))
			ctx := testContext(t)
			cfg := testConfig()
			cfg.ReplicationFactor = tc.rf
			specs := Specs(cfg, testSchedule, true)

			res, err := Create(ctx, adm, specs)
			names := make([]string, len(specs))
			for i, s := range specs {
				names[i] = s.Name
			}
			details, lerr := adm.ListTopics(ctx, names...)
			if lerr != nil {
				t.Fatal(lerr)
			}
			if !tc.refused {
				if err != nil {
					t.Fatalf("Create with rf %d on %d brokers: %v", tc.rf, tc.brokers, err)
				}
				for _, s := range specs {
					d := details[s.Name]
					if d.Err != nil || len(d.Partitions) == 0 || len(d.Partitions[0].Replicas) != tc.rf {
						t.Errorf("%s: %+v, want %d replicas", s.Name, d, tc.rf)
					}
				}
				return
			}
			if !errors.Is(err, ErrReplicationFactor) || res != nil {
				t.Fatalf("Create = %v, %v; want ErrReplicationFactor and no results", res, err)
			}
			msg := err.Error()
			for _, want := range []string{
				"topics.replication_factor is " + strconv.Itoa(tc.rf),
				strconv.Itoa(tc.brokers) + " live broker(s)",
				"at most " + strconv.Itoa(tc.brokers),
			} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not say %q", msg, want)
				}
			}
			for name, d := range details {
				if d.Err == nil {
					t.Errorf("topic %s was created although the factor was refused", name)
				}
			}
		})
	}
}
