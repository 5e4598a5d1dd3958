package app

import (
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/claimable/eventrouter/config"
	"github.com/claimable/eventrouter/internal/kafkaclient"
)

// KafkaClient connects a client to the Kafka cluster as cfg.Kafka says (seeds, TLS,
// SASL, client id), with extra options after the shared ones: for the one-shot
// commands (emit, topics). The caller closes it.
func KafkaClient(cfg config.Config, log *zap.Logger, extra ...kgo.Opt) (*kgo.Client, error) {
	opts, err := KafkaOptions(cfg, log)
	if err != nil {
		return nil, err
	}
	return kgo.NewClient(append(opts, extra...)...)
}

// KafkaOptions are the shared client options of cfg.Kafka (seeds, TLS, SASL, logger), for
// a stage that builds its own clients (DLQ re-drive, the operational tail). A nil log
// logs nothing.
func KafkaOptions(cfg config.Config, log *zap.Logger) ([]kgo.Opt, error) {
	if log == nil {
		log = zap.NewNop()
	}
	return kafkaclient.Options(cfg.Kafka, log)
}
