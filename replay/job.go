package replay

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Job states.
const (
	StatePending = "pending" // created, not planned yet
	StateRunning = "running" // planned; reading, matching, producing
	StateDone    = "done"    // every partition read to its end offset
	StateFailed  = "failed"  // stopped on an error (see Error); resumable
	StateStopped = "stopped" // its process stopped it (shutdown, cancel); resumable
)

// SkipRetention counts, in Job.Skipped, planned records that retention deleted before
// the replay read them.
const SkipRetention = "retention"

// ErrJobNotFound: no job has that id (or it expired).
var ErrJobNotFound = errors.New("replay: no such job")

// ErrJobBusy: another process holds the job's lease (it is running there).
var ErrJobBusy = errors.New("replay: job is running in another process")

// Job is a replay's persistent state: its spec, the offset range of every partition
// (planned once, so a resumed job stays bounded by the same snapshot), the progress and
// the counts, as of the last checkpoint.
type Job struct {
	ID    string `json:"id"`
	Spec  Spec   `json:"spec"`
	State string `json:"state"`
	// Error says why a failed job stopped.
	Error     string    `json:"error,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Partitions are the planned ranges and the next offset to read in each.
	Partitions []Partition `json:"partitions"`
	// Read counts ingest records read, Skipped the invalid ones by reason (they were
	// never delivered), Deliveries the deliveries produced (would be, on a dry run).
	Read       int64            `json:"records_read"`
	Skipped    map[string]int64 `json:"records_skipped"`
	Deliveries int64            `json:"deliveries"`
	// Counts are deliveries by subscription id, then event name.
	Counts map[string]map[string]int64 `json:"counts"`
}

// Partition is one ingest partition's planned range [Start, End) and the next offset
// to read (Start before reading, End when done).
type Partition struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Start     int64  `json:"start"`
	End       int64  `json:"end"`
	Next      int64  `json:"next"`
}

// Progress is the fraction of the planned records read, 0..1 (1 for an empty plan).
func (j *Job) Progress() float64 {
	var total, done int64
	for _, p := range j.Partitions {
		total += p.End - p.Start
		done += min(p.Next, p.End) - p.Start
	}
	if total <= 0 {
		if j.State == StateDone {
			return 1
		}
		return 0
	}
	return float64(done) / float64(total)
}

func (j *Job) count(subID, eventName string) {
	m := j.Counts[subID]
	if m == nil {
		m = make(map[string]int64)
		j.Counts[subID] = m
	}
	m[eventName]++
	j.Deliveries++
}

func (j *Job) clone() *Job {
	c := *j
	c.Partitions = append([]Partition(nil), j.Partitions...)
	c.Skipped = make(map[string]int64, len(j.Skipped))
	for k, v := range j.Skipped {
		c.Skipped[k] = v
	}
	c.Counts = make(map[string]map[string]int64, len(j.Counts))
	for s, m := range j.Counts {
		cm := make(map[string]int64, len(m))
		for k, v := range m {
			cm[k] = v
		}
		c.Counts[s] = cm
	}
	return &c
}

var jobIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func newJobID() string {
	var b [10]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return "rpl_" + jobIDEncoding.EncodeToString(b[:])
}

// validJobID keeps arbitrary path input out of Redis key names.
func validJobID(id string) bool {
	if len(id) != 4+16 || !strings.HasPrefix(id, "rpl_") {
		return false
	}
	_, err := jobIDEncoding.DecodeString(id[4:])
	return err == nil
}

// Jobs stores jobs in Redis, one JSON value per job, kept for TTL after each write,
// and a lease per running job so two processes never run one job at once.
type Jobs struct {
	rdb    redis.UniversalClient
	prefix string
	ttl    time.Duration
}

// DefaultJobTTL is how long a job's state is kept after its last checkpoint.
const DefaultJobTTL = 7 * 24 * time.Hour

// NewJobs returns a job store whose keys start with prefix; ttl <= 0 means DefaultJobTTL.
func NewJobs(rdb redis.UniversalClient, prefix string, ttl time.Duration) *Jobs {
	if ttl <= 0 {
		ttl = DefaultJobTTL
	}
	return &Jobs{rdb: rdb, prefix: prefix, ttl: ttl}
}

// The job and its lease share a hash tag so they live in one Redis Cluster slot.
func (s *Jobs) key(id string) string   { return s.prefix + "replay:{" + id + "}" }
func (s *Jobs) lease(id string) string { return s.prefix + "replay:{" + id + "}:lease" }

// active is the set of jobs started in the background (Engine.Start) that have not
// ended yet: what Engine.Resume looks for after a restart. A set of its own, not
// hash-tagged with any job, so it is one key in any Redis Cluster slot.
func (s *Jobs) active() string { return s.prefix + "replay:active" }

// MarkActive adds id to the background jobs to resume until they end.
func (s *Jobs) MarkActive(ctx context.Context, id string) error {
	if err := s.rdb.SAdd(ctx, s.active(), id).Err(); err != nil {
		return fmt.Errorf("replay: mark job %s active: %w", id, err)
	}
	return nil
}

// Unmark removes id from the background jobs to resume.
func (s *Jobs) Unmark(ctx context.Context, id string) error {
	if err := s.rdb.SRem(ctx, s.active(), id).Err(); err != nil {
		return fmt.Errorf("replay: unmark job %s: %w", id, err)
	}
	return nil
}

// Active lists the background jobs not known to have ended.
func (s *Jobs) Active(ctx context.Context) ([]string, error) {
	ids, err := s.rdb.SMembers(ctx, s.active()).Result()
	if err != nil {
		return nil, fmt.Errorf("replay: list active jobs: %w", err)
	}
	return ids, nil
}

// Get returns the job, or an error wrapping ErrJobNotFound.
func (s *Jobs) Get(ctx context.Context, id string) (*Job, error) {
	if !validJobID(id) {
		return nil, fmt.Errorf("job %q: %w", id, ErrJobNotFound)
	}
	b, err := s.rdb.Get(ctx, s.key(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("job %s: %w", id, ErrJobNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("replay: read job %s: %w", id, err)
	}
	var j Job
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("replay: job %s: corrupt state: %w", id, err)
	}
	if j.Skipped == nil {
		j.Skipped = map[string]int64{}
	}
	if j.Counts == nil {
		j.Counts = map[string]map[string]int64{}
	}
	return &j, nil
}

// Save writes the job.
func (s *Jobs) Save(ctx context.Context, j *Job) error {
	b, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("replay: encode job %s: %w", j.ID, err)
	}
	if err := s.rdb.Set(ctx, s.key(j.ID), b, s.ttl).Err(); err != nil {
		return fmt.Errorf("replay: save job %s: %w", j.ID, err)
	}
	return nil
}

// Acquire takes the job's lease for owner, for ttl; ErrJobBusy if another owner holds it.
func (s *Jobs) Acquire(ctx context.Context, id, owner string, ttl time.Duration) error {
	ok, err := s.rdb.SetNX(ctx, s.lease(id), owner, ttl).Result()
	if err != nil {
		return fmt.Errorf("replay: lease job %s: %w", id, err)
	}
	if !ok {
		return fmt.Errorf("job %s: %w", id, ErrJobBusy)
	}
	return nil
}

// leaseScript extends (ARGV[2] ms) or, with 0, releases the lease only if owner holds it.
var leaseScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == "0" then redis.call("DEL", KEYS[1]) else redis.call("PEXPIRE", KEYS[1], ARGV[2]) end
return 1`)

// Renew extends owner's lease; ErrJobBusy if owner lost it.
func (s *Jobs) Renew(ctx context.Context, id, owner string, ttl time.Duration) error {
	n, err := leaseScript.Run(ctx, s.rdb, []string{s.lease(id)}, owner, ttl.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("replay: renew lease of job %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("job %s: lease lost: %w", id, ErrJobBusy)
	}
	return nil
}

// Release gives owner's lease up.
func (s *Jobs) Release(ctx context.Context, id, owner string) error {
	return leaseScript.Run(ctx, s.rdb, []string{s.lease(id)}, owner, 0).Err()
}
