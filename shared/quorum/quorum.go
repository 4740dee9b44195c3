// Package quorum gathers the answers of the copies of one thing kept in several Regions (the
// decider records in every state copy, the health alarms of every observer). It waits for
// every copy, but no longer than a grace period once a majority has answered: a Region that is
// gone then costs the grace, not the whole timeout, on every read and write of a decision.
package quorum

import (
	"context"
	"errors"
	"time"
)

// DefaultGrace is how long to wait for the other copies once a majority has answered: several
// cross-Region round trips, far below a request timeout.
const DefaultGrace = time.Second

// ErrAbandoned is the error of a call still running when Gather returned: a majority had
// answered and the grace had passed.
var ErrAbandoned = errors.New("no answer within the grace after a majority answered")

// Majority is the least number of n copies that intersects every other majority.
func Majority(n int) int { return n/2 + 1 }

// Gather calls call(ctx, i) for every i in [0, n) in parallel and returns the results and
// errors by index. It returns when every call has returned, or when need calls have succeeded
// and grace has passed since the need-th success; calls still running then are cancelled and
// their error is ErrAbandoned. need <= 0 waits for every call.
func Gather[T any](ctx context.Context, n, need int, grace time.Duration, call func(context.Context, int) (T, error)) ([]T, []error) {
	type answer struct {
		i   int
		v   T
		err error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	answers := make(chan answer, n) // buffered: an abandoned call never blocks
	for i := range n {
		go func() {
			v, err := call(ctx, i)
			answers <- answer{i, v, err}
		}()
	}
	vals := make([]T, n)
	errs := make([]error, n)
	done := make([]bool, n)
	var graceOver <-chan time.Time
	ok := 0
	for got := 0; got < n; got++ {
		select {
		case a := <-answers:
			vals[a.i], errs[a.i], done[a.i] = a.v, a.err, true
			if a.err == nil {
				ok++
				if need > 0 && ok == need && graceOver == nil {
					t := time.NewTimer(grace)
					defer t.Stop()
					graceOver = t.C
				}
			}
		case <-graceOver:
			for i := range done {
				if !done[i] {
					errs[i] = ErrAbandoned
				}
			}
			return vals, errs
		}
	}
	return vals, errs
}
