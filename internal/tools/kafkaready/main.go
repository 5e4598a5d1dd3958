// Command kafkaready waits until a Kafka broker answers over the Kafka
// protocol: a Metadata request must list at least one broker (-min-brokers: that
// many, for a node of a multi-broker cluster) and a controller.
// scripts/kafka.sh uses it instead of sleeping; it starts in milliseconds,
// where a JVM-based check (BrokerApiVersionsCommand) costs a second or more
// per poll on a two-core machine.
//
// Exit status: 0 when ready, 1 on timeout or when the broker process given by
// -pid exits first. On failure the last lines of each -log file are printed
// to stderr so the cause is visible without opening the logs.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "comma-separated seed brokers")
	timeout := flag.Duration("timeout", 90*time.Second, "give up after this long")
	pid := flag.Int("pid", 0, "broker process id; fail fast if it exits (0: do not check)")
	logs := flag.String("log", "", "comma-separated log files whose tails are printed on failure")
	tail := flag.Int("tail", 40, "lines of each log file to print on failure")
	minBrokers := flag.Int("min-brokers", 1, "ready once the metadata lists at least this many brokers")
	flag.Parse()

	start := time.Now()
	md, err := wait(strings.Split(*brokers, ","), *timeout, *pid, max(*minBrokers, 1))
	if err != nil {
		fmt.Fprintf(os.Stderr, "kafkaready: %v\n", err)
		for _, f := range strings.Split(*logs, ",") {
			if f != "" {
				printTail(f, *tail)
			}
		}
		os.Exit(1)
	}
	fmt.Printf("kafkaready: %s ready after %s (cluster %s, %d broker(s), controller %d)\n",
		*brokers, time.Since(start).Round(time.Millisecond), clusterID(md), len(md.Brokers), md.ControllerID)
}

// wait polls BrokerMetadata until it lists minBrokers brokers and a controller, the
// deadline passes, or the broker process dies. A cluster node lists only the brokers
// registered (and unfenced) with the controllers, so minBrokers = cluster size means
// the node has joined and caught up with the cluster metadata.
//
// It sends Metadata requests itself rather than through kadm.BrokerMetadata, which
// answers from the client's metadata cache: a node polled while the cluster forms
// would keep seeing the broker list of its first answer.
func wait(seeds []string, timeout time.Duration, pid, minBrokers int) (*kmsg.MetadataResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	cl, err := kgo.NewClient(
		kgo.SeedBrokers(seeds...),
		kgo.DialTimeout(time.Second),
		// The default backoff grows to 1 s; poll a starting broker tighter.
		kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }),
	)
	if err != nil {
		return nil, err
	}
	defer cl.Close()

	var last error
	for {
		if pid > 0 && !alive(pid) {
			return nil, fmt.Errorf("broker process %d exited before it was ready (last error: %v)", pid, last)
		}
		attempt, cancelAttempt := context.WithTimeout(ctx, 2*time.Second)
		req := kmsg.NewPtrMetadataRequest()
		req.Topics = []kmsg.MetadataRequestTopic{} // brokers and controller only
		md, err := req.RequestWith(attempt, cl)
		cancelAttempt()
		switch {
		case err != nil:
			last = err
		case len(md.Brokers) == 0:
			last = errors.New("metadata lists no brokers")
		case len(md.Brokers) < minBrokers:
			last = fmt.Errorf("metadata lists %d of %d brokers", len(md.Brokers), minBrokers)
		case md.ControllerID < 0:
			last = errors.New("metadata names no controller")
		default:
			return md, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s not ready within %s (last error: %v)", strings.Join(seeds, ","), timeout, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func clusterID(md *kmsg.MetadataResponse) string {
	if md.ClusterID == nil {
		return "?"
	}
	return *md.ClusterID
}

// alive reports whether pid exists and is not a zombie. The broker is a child
// of the calling script, so after a crash it lingers as a zombie until reaped.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// Format: "pid (comm) state ..."; comm may contain spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return false
	}
	return s[i+2] != 'Z' && s[i+2] != 'X'
}

func printTail(path string, n int) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	fmt.Fprintf(os.Stderr, "---- last %d lines of %s ----\n", len(lines), path)
	for _, l := range lines {
		fmt.Fprintln(os.Stderr, l)
	}
}
