package router

import (
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/claimable/eventrouter/subscriptions"
)

// chunkSize is how many ingest records a worker routes at a time: large enough that
// handing work over costs little next to routing it, small enough that producing starts
// soon after a poll.
const chunkSize = 64

// emitFunc receives one ingest record's outcome and output, in ingest order.
type emitFunc func(rec *kgo.Record, rt routed, out []*kgo.Record)

// routeAll routes recs on up to cfg.Workers goroutines (parse, match, render, build
// records: the CPU-bound part) and calls emit on the calling goroutine, once per record
// and in the order of recs, as soon as that record's chunk is done. So producing, which
// must keep ingest order, overlaps with routing the records after it.
//
// A poll of at most one chunk (the usual case at low rates) is routed inline, with no
// goroutine hand-off, so parallelism costs latency nothing.
func (r *Router) routeAll(recs []*kgo.Record, emit emitFunc) {
	chunks := (len(recs) + chunkSize - 1) / chunkSize
	if workers := min(r.cfg.Workers, chunks); workers <= 1 {
		r.routeInline(recs, emit)
		return
	}
	type chunk struct {
		routed []routed
		out    []*kgo.Record
		done   chan struct{}
	}
	cs := make([]chunk, chunks)
	for i := range cs {
		cs[i].done = make(chan struct{})
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(r.cfg.Workers, chunks) {
		wg.Go(func() {
			var subs []*subscriptions.Subscription
			for {
				c := int(next.Add(1) - 1)
				if c >= chunks {
					return
				}
				in := recs[c*chunkSize : min(len(recs), (c+1)*chunkSize)]
				ch := &cs[c]
				ch.routed = make([]routed, len(in))
				ch.out = make([]*kgo.Record, 0, len(in))
				for i, rec := range in {
					ch.routed[i], ch.out, subs = r.route(rec, ch.out, subs)
				}
				close(ch.done)
			}
		})
	}
	for c := range cs {
		ch := &cs[c]
		<-ch.done
		start := 0
		for i, rec := range recs[c*chunkSize : c*chunkSize+len(ch.routed)] {
			rt := ch.routed[i]
			emit(rec, rt, ch.out[start:rt.end])
			start = rt.end
		}
		cs[c] = chunk{} // let the records go once produced
	}
	wg.Wait()
}

// routeInline routes recs one by one on the calling goroutine.
func (r *Router) routeInline(recs []*kgo.Record, emit emitFunc) {
	var out []*kgo.Record
	var subs []*subscriptions.Subscription
	for _, rec := range recs {
		var rt routed
		rt, out, subs = r.route(rec, out[:0], subs)
		emit(rec, rt, out)
	}
}
