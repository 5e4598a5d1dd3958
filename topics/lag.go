package topics

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// GroupLag is one consumer group's lag measured from its committed offsets: it does not
// depend on any member being alive, so a stalled or crashed role still shows its
// backlog.
type GroupLag struct {
	Group   string
	State   string // Stable, Empty, PreparingRebalance, ...
	Members int
	// Topics is per topic the group has commits on or is assigned, sorted by topic.
	Topics []TopicLag
	Err    error // describing the group or fetching its offsets failed
}

// TopicLag is a group's lag on one topic, summed over partitions: the records a member
// of the group would still consume. On a partition where everything between the
// committed offset and the end is transaction markers or aborted records (a topic
// written transactionally, fully consumed), that is 0, not the end offset minus the
// committed offset; otherwise it is the end offset minus the committed offset.
type TopicLag struct {
	Topic      string
	Lag        int64
	Partitions int // partitions counted
	Errors     int // partitions whose lag could not be computed (not in Lag)
}

// Lag measures groups' lag (see TopicLag). cl is any client of the cluster; the
// verification of small tails reads them with read_committed fetches from the
// partition leaders, at most a few hundred KiB per partition.
func Lag(ctx context.Context, cl *kgo.Client, groups ...string) ([]GroupLag, error) {
	adm := kadm.NewClient(cl)
	lags, err := adm.Lag(ctx, groups...)
	if err != nil && len(lags) == 0 {
		return nil, fmt.Errorf("topics: group lag: %w", err)
	}
	out := make([]GroupLag, 0, len(groups))
	var suspects []*suspect
	for _, g := range groups {
		gl := GroupLag{Group: g}
		l, ok := lags[g]
		switch {
		case !ok:
			gl.Err = fmt.Errorf("group %s not described", g)
		case errors.Is(l.Error(), kerr.GroupIDNotFound):
			gl.State = "Dead" // not created yet (or deleted): nothing to consume, no lag
		case l.Error() != nil:
			gl.Err = l.Error()
		default:
			gl.State, gl.Members = l.State, len(l.Members)
			for topic, parts := range l.Lag {
				for p, ml := range parts {
					if ml.Err == nil && ml.Lag > 0 && ml.Commit.At >= 0 {
						suspects = append(suspects, &suspect{group: g, topic: topic, partition: p,
							from: ml.Commit.At, end: ml.End.Offset})
					}
				}
			}
		}
		out = append(out, gl)
	}
	verifyTails(ctx, cl, suspects)
	settled := map[string]map[string]map[int32]bool{} // group → topic → partition: no data left
	for _, s := range suspects {
		if s.drained {
			if settled[s.group] == nil {
				settled[s.group] = map[string]map[int32]bool{}
			}
			if settled[s.group][s.topic] == nil {
				settled[s.group][s.topic] = map[int32]bool{}
			}
			settled[s.group][s.topic][s.partition] = true
		}
	}
	for i := range out {
		if out[i].Err != nil {
			continue
		}
		out[i].Topics = topicLags(lags[out[i].Group].Lag, settled[out[i].Group])
	}
	return out, nil
}

func topicLags(gl kadm.GroupLag, drained map[string]map[int32]bool) []TopicLag {
	out := make([]TopicLag, 0, len(gl))
	for topic, parts := range gl {
		tl := TopicLag{Topic: topic}
		for p, ml := range parts {
			if ml.Err != nil || ml.Lag < 0 {
				tl.Errors++
				continue
			}
			tl.Partitions++
			if !drained[topic][p] {
				tl.Lag += ml.Lag
			}
		}
		out = append(out, tl)
	}
	slices.SortFunc(out, func(a, b TopicLag) int { return strings.Compare(a.Topic, b.Topic) })
	return out
}

// suspect is a partition whose end is past the committed offset: is there a record to
// consume, or only transaction markers and aborted records?
type suspect struct {
	group     string
	topic     string
	partition int32
	from, end int64
	drained   bool // verified: nothing to consume before end
}

const (
	// tailRounds bounds the fetches per partition that look for a record to consume.
	tailRounds = 4
	// tailPartitionBytes bounds one partition's share of a verification fetch.
	tailPartitionBytes = 256 << 10
)

// verifyTails marks the suspects whose committed offset is at or past their last record
// a read_committed consumer would get. A suspect that cannot be verified (an error, or
// tailRounds fetches without reaching the end) keeps its lag: over-reporting is safe,
// hiding a backlog is not.
func verifyTails(ctx context.Context, cl *kgo.Client, suspects []*suspect) {
	if len(suspects) == 0 {
		return
	}
	var topics []string
	for _, s := range suspects {
		if !slices.Contains(topics, s.topic) {
			topics = append(topics, s.topic)
		}
	}
	md, err := kadm.NewClient(cl).Metadata(ctx, topics...)
	if err != nil {
		return
	}
	next := map[*suspect]int64{}
	for _, s := range suspects {
		next[s] = s.from
	}
	for range tailRounds {
		byLeader := map[int32][]*suspect{}
		for _, s := range suspects {
			if s.drained || next[s] < 0 {
				continue
			}
			td, ok := md.Topics[s.topic]
			if !ok || td.Err != nil {
				continue
			}
			pd, ok := td.Partitions[s.partition]
			if !ok || pd.Leader < 0 {
				continue
			}
			byLeader[pd.Leader] = append(byLeader[pd.Leader], s)
		}
		if len(byLeader) == 0 {
			return
		}
		for leader, ss := range byLeader {
			fetchTails(ctx, cl, leader, md, ss, next)
		}
	}
}

// fetchTails issues one read_committed fetch to leader for ss from next[s], and settles
// each: a record to consume (next = -1: not drained), the end reached without one
// (drained), or progress to continue from.
func fetchTails(ctx context.Context, cl *kgo.Client, leader int32, md kadm.Metadata, ss []*suspect, next map[*suspect]int64) {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = 0
	req.MinBytes = 0
	req.MaxBytes = 8 << 20
	req.IsolationLevel = 1 // read_committed: aborted records and markers are not consumed
	req.SessionEpoch = -1
	byName := map[string]*kmsg.FetchRequestTopic{}
	for _, s := range ss {
		rt := byName[s.topic]
		if rt == nil {
			t := kmsg.NewFetchRequestTopic()
			t.Topic = s.topic
			t.TopicID = md.Topics[s.topic].ID
			req.Topics = append(req.Topics, t)
			rt = &req.Topics[len(req.Topics)-1]
			byName[s.topic] = rt
		}
		p := kmsg.NewFetchRequestTopicPartition()
		p.Partition = s.partition
		p.FetchOffset = next[s]
		p.PartitionMaxBytes = tailPartitionBytes
		rt.Partitions = append(rt.Partitions, p)
	}
	// req.Topics may have moved while appending: index by name again.
	byName = map[string]*kmsg.FetchRequestTopic{}
	for i := range req.Topics {
		byName[req.Topics[i].Topic] = &req.Topics[i]
	}
	resp, err := req.RequestWith(ctx, cl.Broker(int(leader)))
	if err != nil || kerr.ErrorForCode(resp.ErrorCode) != nil {
		return
	}
	find := map[string]map[int32]*suspect{}
	for _, s := range ss {
		if find[s.topic] == nil {
			find[s.topic] = map[int32]*suspect{}
		}
		find[s.topic][s.partition] = s
	}
	names := map[[16]byte]string{}
	for name, td := range md.Topics {
		names[td.ID] = name
	}
	for i := range resp.Topics {
		rt := &resp.Topics[i]
		name := rt.Topic
		if name == "" {
			name = names[rt.TopicID]
		}
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			s := find[name][rp.Partition]
			if s == nil || rp.ErrorCode != 0 {
				continue
			}
			from := next[s]
			fp, nextOffset := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{
				Offset: from, IsolationLevel: kgo.ReadCommitted(), Topic: name, Partition: rp.Partition,
			}, rp, kgo.DefaultDecompressor(), nil)
			end := min(s.end, fp.LastStableOffset)
			if fp.LastStableOffset < 0 {
				end = s.end
			}
			for _, r := range fp.Records {
				if r.Offset < end {
					next[s] = -1 // a record to consume: real lag
					break
				}
			}
			switch {
			case next[s] < 0:
			case nextOffset >= end:
				s.drained = true
			case nextOffset > from:
				next[s] = nextOffset
			default:
				next[s] = -1 // no progress (a batch larger than the share): keep the lag
			}
		}
	}
}
