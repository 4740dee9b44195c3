package integration

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/shared/local/drill"
	"github.com/mrap-engine/mrap/shared/local/runtime"
)

// TestDrillEveryFailureKind runs the game-day drill of the local runtime once per failure
// kind (the Region serving the global endpoint goes down, answers 503 SlowDown, or turns
// slow) against one local deployment, prints each timeline and a summary, and requires every
// step of every drill to keep its bound, with no client error once traffic moved.
func TestDrillEveryFailureKind(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three versitygw processes and runs three drills")
	}
	dir := t.TempDir()
	var progress bytes.Buffer
	ctx := context.Background()
	rt, err := runtime.Start(ctx, fastOptions(dir, &progress))
	if err != nil {
		t.Fatalf("start: %v\n%s", err, progress.String())
	}
	t.Cleanup(rt.Close)
	ep, err := runtime.ReadEndpoints(dir)
	if err != nil {
		t.Fatal(err)
	}
	bounds := drill.DefaultBounds
	bounds.Detection, bounds.RoutesFlip, bounds.Traffic, bounds.Recovery = 5*time.Second, 6*time.Second, 6*time.Second, 6*time.Second

	summary := []string{fmt.Sprintf("%-7s %-11s %-11s %-11s %-11s %-11s %-11s %s", "fault", "detection", "dial 0", "traffic", "recovery", "failback", "catch-up", "client errors")}
	for _, kind := range []string{"down", "errors", "slow"} {
		var timeline bytes.Buffer
		start := time.Now()
		rep, err := drill.Run(ctx, ep, drill.Options{Bounds: bounds, Fault: kind, Out: &timeline})
		t.Logf("drill with fault %q (%s):\n%s", kind, time.Since(start).Round(time.Millisecond), timeline.String())
		if err != nil {
			t.Fatalf("drill %s: %v", kind, err)
		}
		for _, s := range rep.Steps {
			if !s.OK {
				t.Errorf("fault %s: step %q missed its bound: took %s, bound %s (%s)", kind, s.Name, s.Took, s.Bound, s.Note)
			}
		}
		if len(rep.Steps) != 8 || rep.Region != "us-east-1" || rep.ClientRequests == 0 {
			t.Fatalf("fault %s: %d steps, Region %q, %d client requests; want 8 steps against us-east-1 under load", kind, len(rep.Steps), rep.Region, rep.ClientRequests)
		}
		if rep.ErrorsAfterFlip != 0 {
			t.Errorf("fault %s: %d client errors after traffic moved", kind, rep.ErrorsAfterFlip)
		}
		// Steps: replication, detection, routes flipped, traffic moved, client errors,
		// recovery, traffic back, outage writes replicated.
		ms := func(i int) string { return rep.Steps[i].Took.Round(time.Millisecond).String() }
		summary = append(summary, fmt.Sprintf("%-7s %-11s %-11s %-11s %-11s %-11s %-11s %d of %d (%d after traffic moved, %d after failback)", kind,
			ms(1), ms(2), ms(3), ms(5), ms(6), ms(7), rep.ClientErrors, rep.ClientRequests, rep.ErrorsAfterFlip, rep.ErrorsAfterFailback))
		if st := rt.Status(); st.Serving != "us-east-1" || !st.Overrides.IsZero() {
			t.Fatalf("after the %s drill: serving %s, overrides %+v; want us-east-1 and none", kind, st.Serving, st.Overrides)
		}
	}
	t.Logf("drill summary (detection, dial 0 and traffic from fault injected; recovery from fault removed; failback from the command; catch-up from failback):\n%s", strings.Join(summary, "\n"))
}
