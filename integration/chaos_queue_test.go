package integration

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// chaosQueue is an at-least-once event queue that misbehaves on purpose, like the bus and the
// SQS queue in front of a replicator on a bad day: it drops, duplicates, delays and reorders
// messages, and redelivers a message whose processing failed (with backoff) until it has been
// received maxReceives times, then dead-letters it. Its choices come from a seeded generator.
type chaosQueue struct {
	mu          sync.Mutex
	cond        *sync.Cond
	rng         *rand.Rand
	cfg         queueFaults
	items       []*queued
	inflight    int
	closed      bool
	stats       queueStats
	deadLetters []string
}

// queueFaults are the probabilities and bounds of the queue's misbehaviour.
type queueFaults struct {
	Drop, Duplicate float64       // per published message
	MaxDelay        time.Duration // each delivery is delayed uniformly in [0, MaxDelay]
	MaxReceives     int           // deliveries before a failing message is dead-lettered
	RetryBackoff    time.Duration // first redelivery delay, doubled per receive
}

// queueStats count what the queue did.
type queueStats struct {
	Published, Dropped, Duplicated, Delivered, Redelivered, DeadLettered, Succeeded int
}

func (s *queueStats) add(o queueStats) {
	s.Published += o.Published
	s.Dropped += o.Dropped
	s.Duplicated += o.Duplicated
	s.Delivered += o.Delivered
	s.Redelivered += o.Redelivered
	s.DeadLettered += o.DeadLettered
	s.Succeeded += o.Succeeded
}

type queued struct {
	body      []byte
	notBefore time.Time
	receives  int
}

func newChaosQueue(seed uint64, cfg queueFaults) *chaosQueue {
	q := &chaosQueue{rng: rand.New(rand.NewPCG(seed, seed^0x51ed27)), cfg: cfg}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// publish offers one message; the queue may drop it, deliver it twice, and delays each copy.
func (q *chaosQueue) publish(body []byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.stats.Published++
	if q.rng.Float64() < q.cfg.Drop {
		q.stats.Dropped++
		return
	}
	copies := 1
	if q.rng.Float64() < q.cfg.Duplicate {
		q.stats.Duplicated++
		copies = 2
	}
	for range copies {
		q.items = append(q.items, &queued{body: body, notBefore: time.Now().Add(q.delay())})
	}
	q.cond.Broadcast()
}

func (q *chaosQueue) delay() time.Duration {
	if q.cfg.MaxDelay <= 0 {
		return 0
	}
	return time.Duration(q.rng.Int64N(int64(q.cfg.MaxDelay) + 1))
}

// receive returns a random message among those due (reordering), or nil once the queue is
// closed and empty or ctx ends.
func (q *chaosQueue) receive(ctx context.Context) *queued {
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		if ctx.Err() != nil {
			return nil
		}
		now := time.Now()
		var due []int
		next := time.Duration(-1)
		for i, it := range q.items {
			if !it.notBefore.After(now) {
				due = append(due, i)
			} else if d := it.notBefore.Sub(now); next < 0 || d < next {
				next = d
			}
		}
		if len(due) > 0 {
			i := due[q.rng.IntN(len(due))]
			it := q.items[i]
			q.items = append(q.items[:i], q.items[i+1:]...)
			it.receives++
			q.inflight++
			q.stats.Delivered++
			if it.receives > 1 {
				q.stats.Redelivered++
			}
			return it
		}
		if q.closed && len(q.items) == 0 {
			return nil
		}
		// Wake up when something is published or the earliest message falls due.
		wait := 50 * time.Millisecond
		if next >= 0 && next < wait {
			wait = next
		}
		t := time.AfterFunc(wait, q.cond.Broadcast)
		q.cond.Wait()
		t.Stop()
	}
}

// done settles a received message: nil err deletes it, an error makes it visible again after
// a backoff, or dead-letters it after MaxReceives receives (or at once when permanent).
func (q *chaosQueue) done(it *queued, err error, permanent bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.inflight--
	defer q.cond.Broadcast()
	if err == nil {
		q.stats.Succeeded++
		return
	}
	if permanent || it.receives >= q.cfg.MaxReceives {
		q.stats.DeadLettered++
		if len(q.deadLetters) < 10 {
			q.deadLetters = append(q.deadLetters, err.Error())
		}
		return
	}
	backoff := q.cfg.RetryBackoff << (it.receives - 1)
	it.notBefore = time.Now().Add(backoff/2 + time.Duration(q.rng.Int64N(int64(backoff/2)+1)))
	q.items = append(q.items, it)
}

// close lets receivers return once the queue is empty.
func (q *chaosQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.cond.Broadcast()
}

// idle reports whether nothing is queued or in flight.
func (q *chaosQueue) idle() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) == 0 && q.inflight == 0
}

func (q *chaosQueue) snapshot() (queueStats, []string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.stats, append([]string(nil), q.deadLetters...)
}
