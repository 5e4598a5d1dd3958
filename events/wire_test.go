package events

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestDeliveryRecordSurvivesKafka produces Delivery records through an in-process Kafka
// and checks the consumed records decode to the same deliveries: header encoding, nil
// versus empty values and key handling all survive the wire protocol.
func TestDeliveryRecordSurvivesKafka(t *testing.T) {
	const topic = "webhooks.deliveries"
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	minimal := NewDelivery(Sample("contact.created", "acc_1", "con_1", 0, sampleTime), "sub_2", []byte(`{}`))
	sent := []*Delivery{fullDelivery(), minimal}
	for _, d := range sent {
		if err := cl.ProduceSync(ctx, d.Record(topic)).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	var got []*Delivery
	for len(got) < len(sent) {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records before timeout", len(got), len(sent))
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) {
			d, err := ParseDelivery(r)
			if err != nil {
				t.Fatalf("ParseDelivery(consumed record): %v", err)
			}
			got = append(got, d)
		})
	}
	for i := range sent {
		if !reflect.DeepEqual(got[i], sent[i]) {
			t.Errorf("record %d changed on the wire:\n got %+v\nwant %+v", i, got[i], sent[i])
		}
	}
}
