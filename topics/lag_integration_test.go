//go:build integration

package topics

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/claimable/eventrouter/internal/testenv"
)

// TestLagIsZeroWhenDrainedAndSurvivesAStallRealKafka: TestLagIsZeroWhenDrainedAndSurvivesAStall
// on Apache Kafka, whose transaction markers and last stable offset are the real ones.
func TestLagIsZeroWhenDrainedAndSurvivesAStallRealKafka(t *testing.T) {
	seeds := testenv.Kafka(t)
	topic := testenv.NewTopic(t, seeds, 2)
	cl := testenv.KafkaClient(t)
	txn := testenv.KafkaClient(t, kgo.TransactionalID(testenv.Name(t, "txn")), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	lagScenario(t, cl, txn, topic, testenv.Name(t, "group"))
}
