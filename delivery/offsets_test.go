package delivery

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestOffsetTrackerCommitsOnlyFinishedPrefix(t *testing.T) {
	tr := newOffsetTracker()
	if _, ok := tr.committable(); ok {
		t.Fatal("empty tracker offers a commit")
	}
	for off := int64(10); off < 20; off++ {
		if !tr.add(off, 3) {
			t.Fatalf("add(%d) refused", off)
		}
	}
	// Everything but the lowest finishes, out of order: nothing may be committed.
	for _, off := range []int64{19, 12, 15, 11, 18, 13, 17, 14, 16} {
		tr.finish(off)
		if eo, ok := tr.committable(); ok {
			t.Fatalf("after finishing %d, commit offered at %d while 10 is unfinished", off, eo.Offset)
		}
	}
	tr.finish(10)
	eo, ok := tr.committable()
	if !ok || eo.Offset != 20 || eo.Epoch != 3 {
		t.Fatalf("committable = %+v, %v; want offset 20 epoch 3", eo, ok)
	}
	if tr.pending() != 0 {
		t.Fatalf("pending = %d, want 0", tr.pending())
	}
}

func TestOffsetTrackerStopsAtGap(t *testing.T) {
	tr := newOffsetTracker()
	for off := int64(0); off < 5; off++ {
		tr.add(off, 0)
	}
	tr.finish(0)
	tr.finish(1)
	tr.finish(3)
	if eo, _ := tr.committable(); eo.Offset != 2 {
		t.Fatalf("commit at %d, want 2 (offset 2 unfinished)", eo.Offset)
	}
	tr.finish(2)
	if eo, _ := tr.committable(); eo.Offset != 4 {
		t.Fatalf("commit at %d, want 4", eo.Offset)
	}
	// Offsets need not be contiguous (compaction, transaction markers).
	tr.add(9, 0)
	tr.finish(4)
	if eo, _ := tr.committable(); eo.Offset != 5 {
		t.Fatalf("commit at %d, want 5 (9 unfinished)", eo.Offset)
	}
	tr.finish(9)
	if eo, _ := tr.committable(); eo.Offset != 10 {
		t.Fatalf("commit at %d, want 10", eo.Offset)
	}
}

func TestOffsetTrackerRefusesRefetchedOffsets(t *testing.T) {
	tr := newOffsetTracker()
	tr.add(5, 0)
	tr.add(6, 0)
	if tr.add(6, 0) || tr.add(3, 0) {
		t.Fatal("re-fetched offset accepted twice")
	}
	tr.finish(42) // unknown: ignored
	if _, ok := tr.committable(); ok {
		t.Fatal("commit offered after finishing an unknown offset")
	}
}

func TestOffsetTrackerRandomCompletionNeverPassesUnfinished(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	tr := newOffsetTracker()
	const n = 2000
	for off := int64(0); off < n; off++ {
		tr.add(off, 0)
	}
	order := r.Perm(n)
	done := make([]bool, n)
	for _, o := range order {
		tr.finish(int64(o))
		done[o] = true
		want := int64(0)
		for want < n && done[want] {
			want++
		}
		eo, ok := tr.committable()
		if want == 0 {
			if ok {
				t.Fatalf("commit offered at %d with offset 0 unfinished", eo.Offset)
			}
			continue
		}
		if !ok || eo.Offset != want {
			t.Fatalf("commit = %d (%v), want %d", eo.Offset, ok, want)
		}
	}
}

func TestPartitionIgnoresCompletionsAfterClose(t *testing.T) {
	p := newPartition(topicPartition{"t", 0})
	r0, r1 := &kgo.Record{Offset: 0}, &kgo.Record{Offset: 1}
	p.track(r0)
	p.track(r1)
	if !p.begin() {
		t.Fatal("begin refused on an open partition")
	}
	p.end(0, true)
	if eo, ok := p.commitPoint(); !ok || eo.Offset != 1 {
		t.Fatalf("commitPoint = %v %v, want 1", eo.Offset, ok)
	}
	p.committedTo(1)
	if _, ok := p.commitPoint(); ok {
		t.Fatal("commitPoint offers an offset already committed")
	}
	p.close()
	if p.begin() {
		t.Fatal("begin allowed on a closed partition")
	}
	p.finishUnstarted(1)
	if _, ok := p.commitPoint(); ok {
		t.Fatal("closed partition offers a commit")
	}
	if p.track(&kgo.Record{Offset: 2}) {
		t.Fatal("closed partition tracks new records")
	}
}

func TestPartitionDrainWaitsForStartedWork(t *testing.T) {
	p := newPartition(topicPartition{"t", 0})
	p.track(&kgo.Record{Offset: 0})
	p.begin()
	if p.drain(20 * time.Millisecond) {
		t.Fatal("drain reported idle while work is started")
	}
	go func() {
		time.Sleep(10 * time.Millisecond)
		p.end(0, true)
	}()
	if !p.drain(5 * time.Second) {
		t.Fatal("drain timed out although the work ended")
	}
}
