package delivery

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// assigned starts tracking newly assigned partitions (before their fetches begin).
func (s *Sender) assigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	o := s.owned
	o.mu.Lock()
	for topic, ps := range assigned {
		for _, p := range ps {
			tp := topicPartition{topic, p}
			if o.parts[tp] == nil {
				part := newPartition(tp)
				part.doneAhead = s.loadHandoff(tp)
				o.parts[tp] = part
			}
		}
	}
	o.mu.Unlock()
	s.health.forgetClear() // another sender may have recorded failures meanwhile
	s.member.tracker.Assigned(assigned)
	s.log.Info("partitions assigned", zap.Any("partitions", assigned))
}

// revoked finishes or abandons the revoked partitions' work, then commits what finished.
func (s *Sender) revoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	s.release(ctx, revoked, true)
}

// lost abandons the lost partitions' work without committing (the group moved on).
func (s *Sender) lost(ctx context.Context, _ *kgo.Client, lost map[string][]int32) {
	s.release(ctx, lost, false)
}

// release hands partitions back. On revocation their queued work is abandoned at once
// (never sent; the next owner sends it), work already running gets DrainTimeout to end,
// the finished prefix is committed, and the finished offsets beyond it are saved as a
// Handoff so the next owner skips them rather than sending them again. The partitions are
// then closed so late completions cannot touch them. On loss nothing is waited for,
// committed or handed off.
func (s *Sender) release(ctx context.Context, tps map[string][]int32, commit bool) {
	s.member.tracker.Released(tps)
	gone := map[*partition]bool{}
	o := s.owned
	o.mu.Lock()
	for topic, ps := range tps {
		for _, p := range ps {
			tp := topicPartition{topic, p}
			if part := o.parts[tp]; part != nil {
				gone[part] = true
				delete(o.parts, tp)
			}
			_, isTier := s.retries.tiers.delayOf(topic)
			s.metrics.lag(tp, 0, isTier)
			if isTier {
				s.retries.heads.resume(tp) // not left paused for a later assignment
			}
		}
	}
	o.mu.Unlock()
	if len(gone) == 0 {
		return
	}
	list := make([]*partition, 0, len(gone))
	for p := range gone {
		list = append(list, p)
	}
	// Queued work is abandoned at once (the next owner sends it); running work gets
	// DrainTimeout to end, so the rebalance is not held up by a backlog.
	abandoned := s.lanes.abandon(func(p *partition) bool { return gone[p] })
	stuck := 0
	if commit {
		deadline := time.Now().Add(s.cfg.DrainTimeout)
		for _, p := range list {
			if !p.waitStarted(time.Until(deadline)) {
				stuck++
			}
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		s.commit(cctx, true, list...)
		s.saveHandoffs(cctx, list)
		cancel()
	}
	for _, p := range list {
		p.close()
	}
	s.log.Info("partitions released", zap.Any("partitions", tps), zap.Bool("committed", commit),
		zap.Int("abandoned_queued", len(abandoned)), zap.Int("partitions_still_busy", stuck))
}

// loadHandoff returns the offsets a previous owner finished beyond its commit, if any.
// Failure only costs duplicates (same webhook-id), so it is logged, not fatal.
func (s *Sender) loadHandoff(tp topicPartition) map[int64]struct{} {
	h := s.owned.handoff
	if h == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	offs, err := h.Load(ctx, s.owned.group, tp.topic, tp.partition)
	if err != nil {
		s.log.Warn("rebalance hand-off not loaded: finished deliveries may be sent again",
			zap.String("topic", tp.topic), zap.Int32("partition", tp.partition), zap.Error(err))
		return nil
	}
	if len(offs) == 0 {
		return nil
	}
	m := make(map[int64]struct{}, len(offs))
	for _, o := range offs {
		m[o] = struct{}{}
	}
	s.log.Info("rebalance hand-off loaded", zap.String("topic", tp.topic), zap.Int32("partition", tp.partition), zap.Int("finished_ahead", len(offs)))
	return m
}

// saveHandoffs records each released partition's finished work beyond its commit point.
func (s *Sender) saveHandoffs(ctx context.Context, parts []*partition) {
	h := s.owned.handoff
	if h == nil {
		return
	}
	for _, p := range parts {
		offs := p.finishedAhead()
		if err := h.Save(ctx, s.owned.group, p.tp.topic, p.tp.partition, offs); err != nil {
			s.log.Warn("rebalance hand-off not saved: the next owner may send finished deliveries again",
				zap.String("topic", p.tp.topic), zap.Int32("partition", p.tp.partition), zap.Int("finished_ahead", len(offs)), zap.Error(err))
		}
	}
}
