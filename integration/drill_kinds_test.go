package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/shared/local/drill"
	"github.com/mrap-engine/mrap/shared/local/runtime"
)

// drillCase is one drill of TestDrillEveryFailureKind: a fault against a Region (default:
// the one the global endpoint serves from).
type drillCase struct {
	name   string
	fault  string
	region string
}

// TestDrillEveryFailureKind runs the game-day drill of the local runtime once per failure
// kind against the Region serving the global endpoint, which is also the home Region and the
// first decider's (us-east-1): down, 503 SlowDown, slow, a whole-Region outage (its S3, probes,
// alarms, decider and state copy) and isolation (it serves its own clients but no link to or
// from the other Regions). It prints each timeline and a summary, and requires every step of
// every drill to keep its bound, no client error once traffic moved, and, for outage and
// isolate, that the routing change was made by a decider outside the failed Region. Under
// MRAP_CHAOS_LONG=1 (`make chaos`) it also drills an outage of a member that runs no decider
// and of the primary decider's Region when it is not the home Region, each on its own
// deployment.
func TestDrillEveryFailureKind(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three versitygw processes and runs five drills")
	}
	home := []drillCase{
		{name: "down", fault: "down"}, {name: "errors", fault: "errors"}, {name: "slow", fault: "slow"},
		{name: "outage of the home Region", fault: "outage"}, {name: "isolate the home Region", fault: "isolate"},
	}
	summary := []string{fmt.Sprintf("%-38s %-15s %-10s %-10s %-10s %-10s %-10s %-10s %-9s %s", "drill", "region", "detection", "dial 0", "traffic", "recovery", "failback", "catch-up", "decider", "client errors")}
	summary = append(summary, runDrills(t, nil, nil, home)...)
	if os.Getenv("MRAP_CHAOS_LONG") != "" {
		summary = append(summary, runDrills(t, []string{"ap-southeast-2"}, nil,
			[]drillCase{{name: "outage of a member without a decider", fault: "outage", region: "ap-southeast-2"}})...)
		summary = append(summary, runDrills(t, []string{"eu-west-1"}, []string{"eu-west-1", "us-east-1"},
			[]drillCase{{name: "outage of the primary decider's Region", fault: "outage", region: "eu-west-1"}})...)
	}
	t.Logf("drill summary (detection, dial 0 and traffic from fault injected; recovery from fault removed; failback from the command; catch-up from failback):\n%s", strings.Join(summary, "\n"))
}

// runDrills starts one deployment and runs the drills against it, one after the other.
func runDrills(t *testing.T, proximity, deciders []string, cases []drillCase) []string {
	t.Helper()
	dir := t.TempDir()
	var progress bytes.Buffer
	ctx := context.Background()
	opts := fastOptions(dir, &progress)
	opts.Proximity, opts.Deciders = proximity, deciders
	rt, err := runtime.Start(ctx, opts)
	if err != nil {
		t.Fatalf("start: %v\n%s", err, progress.String())
	}
	defer rt.Close()
	ep, err := runtime.ReadEndpoints(dir)
	if err != nil {
		t.Fatal(err)
	}
	serving := rt.Status().Serving
	bounds := drill.DefaultBounds
	bounds.Detection, bounds.RoutesFlip, bounds.Traffic, bounds.Recovery = 5*time.Second, 6*time.Second, 6*time.Second, 6*time.Second
	var lines []string
	for _, c := range cases {
		b := bounds
		if c.fault == "outage" || c.fault == "isolate" {
			// Across a cut link every probe, alarm read and state-copy read or write of the lost
			// Region waits out a timeout (1 s locally) before it counts as failed.
			b.RoutesFlip, b.Traffic = 10*time.Second, 10*time.Second
		}
		var timeline bytes.Buffer
		start := time.Now()
		rep, err := drill.Run(ctx, ep, drill.Options{Bounds: b, Fault: c.fault, Region: c.region, Out: &timeline})
		t.Logf("drill %s (%s):\n%s", c.name, time.Since(start).Round(time.Millisecond), timeline.String())
		if err != nil {
			t.Fatalf("drill %s: %v", c.name, err)
		}
		for _, s := range rep.Steps {
			if !s.OK {
				t.Errorf("%s: step %q missed its bound: took %s, bound %s (%s)", c.name, s.Name, s.Took, s.Bound, s.Note)
			}
		}
		if len(rep.Steps) != 8 || rep.Region != serving || rep.ClientRequests == 0 {
			t.Fatalf("%s: %d steps, Region %q, %d client requests; want 8 steps against %s under load", c.name, len(rep.Steps), rep.Region, rep.ClientRequests, serving)
		}
		if rep.ErrorsAfterFlip != 0 {
			t.Errorf("%s: %d client errors after traffic moved", c.name, rep.ErrorsAfterFlip)
		}
		if (c.fault == "outage" || c.fault == "isolate") && (rep.Decider == "" || rep.Decider == rep.Region) {
			t.Errorf("%s: the routing change was made by the decider in %q; want one outside %s", c.name, rep.Decider, rep.Region)
		}
		// Steps: replication, detection, routes flipped, traffic moved, client errors,
		// recovery, traffic back, outage writes replicated.
		ms := func(i int) string { return rep.Steps[i].Took.Round(time.Millisecond).String() }
		lines = append(lines, fmt.Sprintf("%-38s %-15s %-10s %-10s %-10s %-10s %-10s %-10s %-9s %d of %d (%d after traffic moved, %d after failback)", c.name, rep.Region,
			ms(1), ms(2), ms(3), ms(5), ms(6), ms(7), rep.Decider, rep.ClientErrors, rep.ClientRequests, rep.ErrorsAfterFlip, rep.ErrorsAfterFailback))
		if st := rt.Status(); st.Serving != serving || !st.Overrides.IsZero() {
			t.Fatalf("after the %s drill: serving %s, overrides %+v; want %s and none", c.name, st.Serving, st.Overrides, serving)
		}
	}
	return lines
}
