package topics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Report is the state of the spec'd topics and of some consumer groups.
type Report struct {
	Topics []TopicState // in spec order
	Groups []GroupState // in the order asked
}

// TopicState is one spec'd topic as the cluster has it.
type TopicState struct {
	Name string
	Role string
	// Exists is false when the cluster does not know the topic (run `topics create`).
	Exists bool
	// Partitions is the live count; WantPartitions the spec's (-1: broker default).
	Partitions     int
	WantPartitions int32
	Err            string // a metadata error other than "does not exist"
}

// GroupState is one consumer group's membership and lag.
type GroupState struct {
	Group   string
	State   string // Stable, Empty, Dead, PreparingRebalance, ...
	Members int
	// Lag is per topic the group has commits on or is assigned, sorted by topic (see
	// TopicLag: transaction markers do not count).
	Lag []TopicLag
	Err string // describing the group or fetching its offsets failed
}

// Describe reads the partitions of every spec'd topic and the lag of every group in
// groups. A missing topic or a group error is reported in the Report, not returned;
// the error is for a request that could not be issued at all (cluster unreachable).
func Describe(ctx context.Context, cl *kgo.Client, specs []Spec, groups []string) (*Report, error) {
	adm := kadm.NewClient(cl)
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	rep := &Report{}
	if len(names) > 0 {
		details, err := adm.ListTopics(ctx, names...)
		if err != nil {
			return nil, fmt.Errorf("topics: list topics: %w", err)
		}
		for _, s := range specs {
			ts := TopicState{Name: s.Name, Role: s.Role, WantPartitions: s.Partitions}
			if d, ok := details[s.Name]; ok {
				switch {
				case d.Err == nil:
					ts.Exists, ts.Partitions = true, len(d.Partitions)
				case !isUnknownTopic(d.Err):
					ts.Err = d.Err.Error()
				}
			}
			rep.Topics = append(rep.Topics, ts)
		}
	}
	if len(groups) == 0 {
		return rep, nil
	}
	lags, err := Lag(ctx, cl, groups...)
	if err != nil {
		return nil, err
	}
	for _, l := range lags {
		gs := GroupState{Group: l.Group, State: l.State, Members: l.Members, Lag: l.Topics}
		if l.Err != nil {
			gs.Err = l.Err.Error()
		}
		rep.Groups = append(rep.Groups, gs)
	}
	return rep, nil
}

func isUnknownTopic(err error) bool { return errors.Is(err, kerr.UnknownTopicOrPartition) }

// Print writes the report as two aligned tables: topics, then group lag.
func (r *Report) Print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tROLE\tPARTITIONS\tSTATUS")
	for _, t := range r.Topics {
		status := "ok"
		parts := strconv.Itoa(t.Partitions)
		switch {
		case t.Err != "":
			status, parts = "error: "+t.Err, "-"
		case !t.Exists:
			status, parts = "missing (run: eventrouter topics create)", "-"
		case t.WantPartitions > 0 && int(t.WantPartitions) != t.Partitions:
			status = fmt.Sprintf("config says %d partitions", t.WantPartitions)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, t.Role, parts, status)
	}
	if len(r.Groups) > 0 {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "GROUP\tSTATE\tMEMBERS\tTOPIC\tLAG")
		for _, g := range r.Groups {
			switch {
			case g.Err != "":
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", g.Group, "error: "+g.Err, "-", "-", "-")
			case len(g.Lag) == 0:
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", g.Group, g.State, g.Members, "-", "-")
			}
			for _, l := range g.Lag {
				lag := strconv.FormatInt(l.Lag, 10)
				if l.Errors > 0 {
					lag += fmt.Sprintf(" (%d partitions unknown)", l.Errors)
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", g.Group, g.State, g.Members, l.Topic, lag)
			}
		}
	}
	return tw.Flush()
}
