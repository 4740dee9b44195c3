package quorum_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/shared/quorum"
)

// hang blocks until its context ends, as a call to a Region that is gone does.
func hang(ctx context.Context) (int, error) { <-ctx.Done(); return 0, ctx.Err() }

// within fails the test when fn does not return before a bound far above the grace: Gather
// must not wait for a call that never answers once a majority has.
func within(t *testing.T, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { fn(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Gather waited for a call that never answers although a majority had answered")
	}
}

func TestGather(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name     string
		calls    []func(context.Context) (int, error)
		need     int
		wantVals []int
		wantErrs []error
	}{
		{"every call answers", []func(context.Context) (int, error){
			func(context.Context) (int, error) { return 1, nil },
			func(context.Context) (int, error) { return 2, nil },
			func(context.Context) (int, error) { return 0, boom },
		}, 2, []int{1, 2, 0}, []error{nil, nil, boom}},
		{"a hung call is abandoned after a majority and the grace", []func(context.Context) (int, error){
			func(context.Context) (int, error) { return 1, nil },
			hang,
			func(context.Context) (int, error) { return 3, nil },
		}, 2, []int{1, 0, 3}, []error{nil, quorum.ErrAbandoned, nil}},
		{"failures do not count toward the majority", []func(context.Context) (int, error){
			func(context.Context) (int, error) { return 0, boom },
			func(context.Context) (int, error) { return 0, boom },
			func(context.Context) (int, error) { return 3, nil },
		}, 2, []int{0, 0, 3}, []error{boom, boom, nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var vals []int
			var errs []error
			within(t, func() {
				vals, errs = quorum.Gather(context.Background(), len(tt.calls), tt.need, 10*time.Millisecond,
					func(ctx context.Context, i int) (int, error) { return tt.calls[i](ctx) })
			})
			for i := range tt.calls {
				if vals[i] != tt.wantVals[i] || !errors.Is(errs[i], tt.wantErrs[i]) {
					t.Errorf("call %d = %d, %v; want %d, %v", i, vals[i], errs[i], tt.wantVals[i], tt.wantErrs[i])
				}
			}
		})
	}
}

// Without a majority Gather waits for every call: the caller's timeout ends a hung one.
func TestGatherWithoutMajorityWaitsForTheTimeout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, errs := quorum.Gather(ctx, 3, 2, time.Millisecond, func(ctx context.Context, i int) (int, error) {
		if i == 0 {
			return 1, nil
		}
		return hang(ctx)
	})
	for i, err := range errs[1:] {
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("call %d error = %v, want the caller's deadline", i+1, err)
		}
	}
}

func TestMajority(t *testing.T) {
	for n, want := range map[int]int{1: 1, 2: 2, 3: 2, 4: 3, 5: 3} {
		if got := quorum.Majority(n); got != want {
			t.Errorf("Majority(%d) = %d, want %d", n, got, want)
		}
	}
}
