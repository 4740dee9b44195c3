package failover

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/shared/docstore"
	"github.com/mrap-engine/mrap/shared/routing"
)

var schedule = Trigger{Kind: TriggerSchedule, Summary: "test tick"}

func TestNoQuorumChangesNothing(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*rig)
	}{
		{"a minority of observers read", func(r *rig) { r.health.observers, r.health.read = 3, 1 }},
		{"a minority of state copies read", func(r *rig) {
			r.copies["eu-west-1"].SetErr(errors.New("dial tcp: i/o timeout"))
			r.copies["us-west-2"].SetErr(errors.New("AccessDenied"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, aaPolicy(), false, euAlarm())
			tt.setup(r)
			out, err := r.engine.Evaluate(context.Background(), schedule)
			if err != nil {
				t.Fatal(err)
			}
			if !out.NoQuorum || out.Changed || len(r.routes.submits) != 0 || r.puts != 0 {
				t.Errorf("outcome %+v submits %v puts %d: want no quorum and nothing done", out, r.routes.submits, r.puts)
			}
			if !strings.Contains(r.logs.String(), `"outcome":"no-quorum"`) {
				t.Errorf("no audit line: %s", r.logs.String())
			}
		})
	}
}

func TestIntentNotWrittenToAMajoritySubmitsNothing(t *testing.T) {
	r := newRig(t, aaPolicy(), false, euAlarm())
	// Reads succeed (nothing stored yet); writes fail in two of three copies.
	for _, region := range []string{"eu-west-1", "us-west-2"} {
		r.engine.copies[region] = failingPuts{r.copies[region]}
	}
	_, err := r.engine.Evaluate(context.Background(), schedule)
	if err == nil || !strings.Contains(err.Error(), "write intent: 1 of 3 state copies acknowledged, need 2") {
		t.Fatalf("err = %v, want the intent refused", err)
	}
	if len(r.routes.submits) != 0 {
		t.Errorf("submitted %v without a majority intent", r.routes.submits)
	}
}

type failingPuts struct{ *docstore.Memory }

func (failingPuts) Put(context.Context, string, []byte, docstore.Cond) (string, error) {
	return "", errors.New("SlowDown")
}

// recordOf puts a record of decider d with heartbeat at in every copy of r.
func recordOf(t *testing.T, r *rig, rec Record) {
	t.Helper()
	b, _ := json.Marshal(rec)
	for _, c := range r.copies {
		if _, err := c.Put(context.Background(), RecordKey(DefaultPrefix, rec.Decider), b, docstore.Cond{}); err != nil {
			t.Fatal(err)
		}
	}
}

func failbackRig(t *testing.T) *rig {
	p := routing.Policy{Mode: routing.ActivePassive, Priority: []string{"us-east-1", "eu-west-1", "us-west-2"}, Cooldown: 5 * time.Minute, Failback: true, FailbackWindow: 15 * time.Minute}
	r := newRig(t, p, false, allOK())
	r.routes.routes[0].Dial, r.routes.routes[1].Dial, r.routes.routes[2].Dial = 100, 0, 0 // eu-west-1 active
	return r
}

func TestOnlyThePrimaryMakesDampedChanges(t *testing.T) {
	t.Run("a second decider holds a failback while the first is fresh", func(t *testing.T) {
		r := failbackRig(t)
		r.engine.opts.Decider = "us-west-2"
		recordOf(t, r, Record{Decider: "us-east-1", Seq: 3, Heartbeat: now.Add(-time.Minute), FreshSince: now.Add(-time.Hour)})
		out, err := r.engine.Evaluate(context.Background(), schedule)
		if err != nil {
			t.Fatal(err)
		}
		if !out.Held || out.Primary != "us-east-1" || len(r.routes.submits) != 0 || !strings.Contains(out.Reason, "us-east-1 is the primary") {
			t.Errorf("outcome %+v, want the failback held for the primary", out)
		}
	})
	t.Run("the second decider becomes primary when the first's heartbeat is older than the lease", func(t *testing.T) {
		r := failbackRig(t)
		r.engine.opts.Decider = "us-west-2"
		recordOf(t, r, Record{Decider: "us-east-1", Seq: 3, Heartbeat: now.Add(-4 * time.Minute)})
		out, err := r.engine.Evaluate(context.Background(), schedule)
		if err != nil {
			t.Fatal(err)
		}
		if !out.Submitted || out.Primary != "us-west-2" || out.Kind != KindDamped {
			t.Errorf("outcome %+v, want the failback from the new primary", out)
		}
	})
	t.Run("a first decider coming back warms up for a lease before acting as primary", func(t *testing.T) {
		r := failbackRig(t)
		recordOf(t, r, Record{Decider: "us-west-2", Seq: 9, Heartbeat: now.Add(-30 * time.Second), FreshSince: now.Add(-time.Hour)})
		out, err := r.engine.Evaluate(context.Background(), schedule)
		if err != nil {
			t.Fatal(err)
		}
		if !out.Held || !strings.Contains(out.Reason, "warming up as primary until 2026-11-25T17:34:00Z") {
			t.Fatalf("outcome %+v, want a warm-up", out)
		}
		r.engine.opts.Now = func() time.Time { return now.Add(3*time.Minute + time.Second) }
		recordOf(t, r, Record{Decider: "us-west-2", Seq: 10, Heartbeat: now.Add(3 * time.Minute), FreshSince: now.Add(-time.Hour)})
		out, err = r.engine.Evaluate(context.Background(), schedule)
		if err != nil {
			t.Fatal(err)
		}
		if !out.Submitted || out.Kind != KindDamped {
			t.Errorf("outcome %+v, want the failback after the warm-up", out)
		}
	})
	t.Run("any decider evacuates at once", func(t *testing.T) {
		r := newRig(t, aaPolicy(), false, euAlarm())
		r.engine.opts.Decider = "us-west-2"
		recordOf(t, r, Record{Decider: "us-east-1", Seq: 3, Heartbeat: now.Add(-time.Minute), FreshSince: now.Add(-time.Hour), LastChange: now.Add(-time.Minute)})
		out, err := r.engine.Evaluate(context.Background(), schedule)
		if err != nil {
			t.Fatal(err)
		}
		if !out.Submitted || out.Kind != KindEvacuation || out.Decider != "us-west-2" || r.routes.submits[0]["eu-west-1"] != 0 {
			t.Errorf("outcome %+v, want eu-west-1 evacuated by the second decider inside the cooldown", out)
		}
		if st := r.state(t); st.LastChangeBy != "us-west-2" || st.Records["us-west-2"].Seq != 2 {
			t.Errorf("state %+v, want the change recorded by us-west-2 (intent and outcome)", st)
		}
	})
}

func TestACommandSentToEveryDeciderIsAppliedOnce(t *testing.T) {
	r := newRig(t, aaPolicy(), false, allOK())
	raw := fixture(t, "command-failover.json")
	r.engine.opts.Now = func() time.Time { return now.Add(-time.Minute + 30*time.Second) }
	if out, err := r.engine.HandleEvent(context.Background(), raw); err != nil || !out.Submitted {
		t.Fatalf("first decider: %+v, %v", out, err)
	}
	// The same command (same commandId) reaches the second decider through its own bus.
	r.engine.opts.Decider = "us-west-2"
	out, err := r.engine.HandleEvent(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if !out.Ignored || !strings.Contains(out.Reason, "already applied") || len(r.routes.submits) != 1 {
		t.Errorf("second decider: %+v, submits %d; want the command ignored", out, len(r.routes.submits))
	}
}

func TestMerge(t *testing.T) {
	t0 := now
	recs := []Record{
		{Decider: "us-east-1", Seq: 4, Heartbeat: t0.Add(-time.Minute), LastChange: t0.Add(-10 * time.Minute), LastReason: "old", Overrides: routing.Overrides{Pinned: "eu-west-1"}, OverridesAt: t0.Add(-10 * time.Minute)},
		{Decider: "us-east-1", Seq: 5, Heartbeat: t0, LastChange: t0.Add(-2 * time.Minute), LastReason: "newest of us-east-1"},
		{Decider: "us-west-2", Seq: 9, Heartbeat: t0, LastChange: t0.Add(-5 * time.Minute), LastReason: "us-west-2", Overrides: routing.Overrides{Drained: []string{"eu-west-1"}}, OverridesAt: t0.Add(-5 * time.Minute),
			LastCommandID: "c2", LastCommandAt: t0.Add(-5 * time.Minute),
			HealthIssues: map[string]HealthIssue{"arn1": {Region: "eu-west-1", EventARN: "arn1", Open: false, UpdatedAt: t0.Add(-time.Minute)}}},
		{Decider: "ap-southeast-2", Seq: 1, Heartbeat: t0.Add(-8 * 24 * time.Hour), LastChange: t0.Add(-8 * 24 * time.Hour)},
		{Decider: "eu-west-1", Seq: 2, Heartbeat: t0.Add(-time.Hour), LastCommandID: "c1", LastCommandAt: t0.Add(-time.Hour),
			HealthIssues: map[string]HealthIssue{"arn1": {Region: "eu-west-1", EventARN: "arn1", Open: true, UpdatedAt: t0.Add(-time.Hour)}}},
	}
	st := Merge(recs)
	if st.Records["us-east-1"].Seq != 5 {
		t.Errorf("us-east-1 record seq %d, want the highest (5)", st.Records["us-east-1"].Seq)
	}
	if _, ok := st.Records["ap-southeast-2"]; ok {
		t.Errorf("a record older than seven days was merged")
	}
	if !st.LastChange.Equal(t0.Add(-2*time.Minute)) || st.LastChangeBy != "us-east-1" || st.LastReason != "newest of us-east-1" {
		t.Errorf("last change %s by %s (%s)", st.LastChange, st.LastChangeBy, st.LastReason)
	}
	if st.Overrides.Pinned != "" || len(st.Overrides.Drained) != 1 {
		t.Errorf("overrides %+v, want those of the latest overridesAt (the drain)", st.Overrides)
	}
	if st.LastCommandID != "c2" {
		t.Errorf("last command %s, want c2", st.LastCommandID)
	}
	if is := st.HealthIssues["arn1"]; is.Open {
		t.Errorf("health issue %+v, want the newest update (closed)", is)
	}
	if again := Merge([]Record{recs[4], recs[2], recs[1], recs[0], recs[3]}); again.LastChangeBy != st.LastChangeBy || again.LastCommandID != st.LastCommandID {
		t.Errorf("merge depends on the order of the records")
	}
}

func TestACommandGoesOnWithoutAnObserverQuorum(t *testing.T) {
	r := newRig(t, aaPolicy(), false, map[string]routing.RegionHealth{})
	r.health.observers, r.health.read = 3, 0
	out, err := r.engine.HandleEvent(context.Background(), fixture(t, "command-failover.json"))
	if err != nil {
		t.Fatal(err)
	}
	if out.NoQuorum || !out.Submitted || out.Kind != KindCommand {
		t.Errorf("outcome %+v, want the operator's failover applied on unknown health", out)
	}
}

// hungCopy is the state copy of a Region that is gone: every call waits for its context.
type hungCopy struct{}

func (hungCopy) Get(ctx context.Context, _ string) (docstore.Doc, error) {
	<-ctx.Done()
	return docstore.Doc{}, ctx.Err()
}

func (hungCopy) Put(ctx context.Context, _ string, _ []byte, _ docstore.Cond) (string, error) {
	<-ctx.Done()
	return "", ctx.Err()
}

// A lost Region's state copy costs each read and write the quorum grace, not the read
// timeout: with a timeout of an hour the evacuation must still be submitted.
func TestALostStateCopyCostsTheGraceNotTheTimeout(t *testing.T) {
	r := newRig(t, aaPolicy(), false, euAlarm())
	r.engine.copies["eu-west-1"] = hungCopy{}
	r.engine.opts.ReadTimeout, r.engine.opts.QuorumGrace = time.Hour, 10*time.Millisecond
	type result struct {
		out Outcome
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := r.engine.Evaluate(context.Background(), schedule)
		done <- result{out, err}
	}()
	select {
	case res := <-done:
		if res.err != nil || !res.out.Submitted || res.out.Kind != KindEvacuation {
			t.Fatalf("outcome %+v, %v; want the evacuation submitted on two of three copies", res.out, res.err)
		}
		if st := r.state(t); st.LastChangeBy != "us-east-1" {
			t.Errorf("state %+v: want the change recorded in the copies that answered", st)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the decision waited for a state copy that never answers although a majority had")
	}
}

// TestACommandRecordedOnlyAsAnIntentIsDecidedAgain: a command whose decider wrote its intent
// but no outcome (the submit failed, the view went past its bound, the decider was lost) did
// not move traffic, so the same command again (the Lambda retry, the other decider's copy of
// it) is decided, not ignored as applied.
func TestACommandRecordedOnlyAsAnIntentIsDecidedAgain(t *testing.T) {
	raw := fixture(t, "command-failover.json")
	at := now.Add(-time.Minute + 30*time.Second)
	t.Run("the submit failed: the retry applies it", func(t *testing.T) {
		r := newRig(t, aaPolicy(), false, allOK())
		r.engine.opts.Now = func() time.Time { return at }
		r.routes.submitErr = errors.New("ServiceUnavailable")
		if _, err := r.engine.HandleEvent(context.Background(), raw); err == nil {
			t.Fatal("the failed submit returned no error")
		}
		if st := r.state(t); st.LastCommandOutcome != CommandIntent {
			t.Fatalf("state %+v, want the command's intent recorded", st)
		}
		r.routes.submitErr = nil
		out, err := r.engine.HandleEvent(context.Background(), raw)
		if err != nil || !out.Submitted || out.Ignored {
			t.Fatalf("retry: %+v, %v; want the command applied", out, err)
		}
		if st := r.state(t); st.LastCommandOutcome != "changed" {
			t.Errorf("state outcome %q, want changed", st.LastCommandOutcome)
		}
	})
	t.Run("the other decider's intent: the second decider applies it", func(t *testing.T) {
		r := newRig(t, aaPolicy(), false, allOK())
		r.engine.opts.Now = func() time.Time { return at }
		r.routes.submitErr = errors.New("ServiceUnavailable")
		if _, err := r.engine.HandleEvent(context.Background(), raw); err == nil {
			t.Fatal("the failed submit returned no error")
		}
		r.routes.submitErr = nil
		r.engine.opts.Decider = "us-west-2"
		out, err := r.engine.HandleEvent(context.Background(), raw)
		if err != nil || !out.Submitted {
			t.Fatalf("second decider: %+v, %v; want the command applied", out, err)
		}
	})
	t.Run("the view went past its bound: the second read applies it", func(t *testing.T) {
		r := newRig(t, aaPolicy(), false, allOK())
		clock := at
		r.engine.opts.Now = func() time.Time { return clock }
		var once sync.Once
		for region, c := range r.engine.copies {
			r.engine.copies[region] = slowPut{Store: c, after: func() { once.Do(func() { clock = clock.Add(time.Minute) }) }}
		}
		out, err := r.engine.HandleEvent(context.Background(), raw)
		if err != nil || !out.Submitted || out.Ignored || len(r.routes.submits) != 1 {
			t.Fatalf("outcome %+v, %v, submits %d; want the command applied on the second read", out, err, len(r.routes.submits))
		}
	})
	t.Run("an outcome recorded: the same command is ignored", func(t *testing.T) {
		r := newRig(t, aaPolicy(), false, allOK())
		r.engine.opts.Now = func() time.Time { return at }
		recordOf(t, r, Record{Decider: "us-west-2", Seq: 1, Heartbeat: at, LastCommandID: commandIDOf(t, raw), LastCommandAt: at, LastCommandOutcome: "refused"})
		out, err := r.engine.HandleEvent(context.Background(), raw)
		if err != nil || !out.Ignored || len(r.routes.submits) != 0 {
			t.Errorf("outcome %+v, %v, submits %d; want it ignored as applied", out, err, len(r.routes.submits))
		}
	})
}

// slowPut is a state copy whose writes take long enough to age the view (after runs once a
// write is done).
type slowPut struct {
	docstore.Store
	after func()
}

func (s slowPut) Put(ctx context.Context, key string, body []byte, c docstore.Cond) (string, error) {
	etag, err := s.Store.Put(ctx, key, body, c)
	s.after()
	return etag, err
}

// commandIDOf is the command id failover reads from a routing command event.
func commandIDOf(t *testing.T, raw []byte) string {
	t.Helper()
	tr, err := ParseEvent(raw)
	if err != nil {
		t.Fatal(err)
	}
	return tr.CommandID
}
