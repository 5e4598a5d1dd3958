package topics

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestLagIsZeroWhenDrainedAndSurvivesAStall(t *testing.T) {
	c, cl, _ := newCluster(t, kfake.SeedTopics(2, "tx-deliveries"))
	txn, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.TransactionalID("lag-test"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Close()
	lagScenario(t, cl, txn, "tx-deliveries", "g-lag")
}
