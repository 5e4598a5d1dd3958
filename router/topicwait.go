package router

import (
	"context"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// watchIngestTopics logs, at WARN every interval, the ingest topics that do not exist
// yet, until they all do. A router whose topics are missing joins its group and then
// sits idle without an error of its own (the consumer just waits for metadata), which
// on a fresh set-up looks like a silent hang; this names what it waits for. It reads
// metadata only and never creates a topic. It returns when every topic exists or ctx
// ends.
func (r *Router) watchIngestTopics(ctx context.Context, cl *kgo.Client, interval time.Duration) {
	adm := kadm.NewClient(cl)
	warned := false
	for {
		missing, err := r.missingIngestTopics(ctx, adm)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			r.log.Warn("router cannot list its ingest topics", zap.Error(err))
		case len(missing) == 0:
			if warned {
				r.log.Info("router ingest topics present", zap.Strings("topics", r.cfg.IngestTopics))
			}
			return
		default:
			warned = true
			r.log.Warn("router waiting for ingest topics to exist; create them (eventrouter topics create --include-ingest) or ask their owners",
				zap.Strings("missing", missing), zap.Strings("ingest_topics", r.cfg.IngestTopics))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// missingIngestTopics returns the configured ingest topics the cluster does not have.
func (r *Router) missingIngestTopics(ctx context.Context, adm *kadm.Client) ([]string, error) {
	lctx, cancel := context.WithTimeout(ctx, max(5*time.Second, r.cfg.TopicWaitInterval))
	defer cancel()
	details, err := adm.ListTopics(lctx, r.cfg.IngestTopics...)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, t := range r.cfg.IngestTopics {
		if d, ok := details[t]; !ok || d.Err != nil {
			missing = append(missing, t)
		}
	}
	return slices.Clip(missing), nil
}
