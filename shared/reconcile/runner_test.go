package reconcile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/shared/docstore"
	"github.com/mrap-engine/mrap/shared/replication"
)

func newRunner(t *testing.T, b *buckets, repairer Repairer, opts Options) *Runner {
	t.Helper()
	if repairer == nil {
		e, err := replication.New(b, testMembers, replication.Options{})
		if err != nil {
			t.Fatal(err)
		}
		repairer = e
	}
	r, err := New(b, repairer, testMembers, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// diverge writes n keys in every way the issue names: written before deployment (one Region
// only), dropped overwrite events, concurrent writes, deletes missed by a Region that was
// down, and a few keys already converged.
func diverge(b *buckets, n int) {
	for i := range n {
		k := fmt.Sprintf("k%04d", i)
		switch i % 5 {
		case 0: // before deployment
			b.put([]string{eu, us, ap}[i%3], k, "pre-"+k)
		case 1: // converged, then an overwrite whose event was dropped
			v := b.put(eu, k, "v1-"+k)
			replicate(b, eu, k, v, "v1-"+k, us, ap)
			b.tick(time.Second)
			b.put(eu, k, "v2-"+k)
		case 2: // concurrent writes in two Regions, no replication
			b.put(us, k, "us-"+k)
			b.put(ap, k, "ap-"+k)
		case 3: // delete while ap was down
			v := b.put(us, k, "x-"+k)
			replicate(b, us, k, v, "x-"+k, eu, ap)
			b.tick(time.Second)
			b.del(us, k)
			b.del(eu, k)
		case 4: // already converged
			v := b.put(ap, k, "ok-"+k)
			replicate(b, ap, k, v, "ok-"+k, eu, us)
		}
		b.tick(time.Second)
	}
}

// replicate writes a faithful replica of v (read in region from) to the other regions, as
// the replicator would.
func replicate(b *buckets, from, key string, v replication.Version, body string, to ...string) {
	meta := maps.Clone(v.Metadata)
	maps.Copy(meta, replication.DestinationOrigin(from, v).Marks())
	for _, r := range to {
		b.fs.Put(r, key, body, meta)
	}
}

func assertConverged(t *testing.T, b *buckets) {
	t.Helper()
	want := b.state(eu)
	for _, r := range []string{us, ap} {
		if got := b.state(r); !maps.Equal(got, want) {
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s %s = %q, eu-west-1 has %q", r, k, got[k], v)
				}
			}
			for k, v := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("%s %s = %q, eu-west-1 has nothing", r, k, v)
				}
			}
			return
		}
	}
}

func TestRunConvergesAndSecondPlanIsEmpty(t *testing.T) {
	b := newBuckets()
	diverge(b, 50)
	var reported atomic.Int64
	r := newRunner(t, b, nil, Options{PageSize: 7, Workers: 4, OnRepair: func(Repair, replication.Outcome) { reported.Add(1) }})
	s, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !s.Complete || s.Run.KeysScanned != 50 {
		t.Fatalf("summary %+v, want a complete pass over 50 keys", s)
	}
	// 10 pre-deployment keys x2, 10 dropped overwrites x2, 10 concurrent writes x2 (the loser
	// and the Region without it), 10 missed deletes x1.
	if s.Run.RepairsPlanned != 70 || s.Run.RepairsDone != 70 || s.Run.RepairsFailed != 0 || reported.Load() != 70 {
		t.Errorf("repairs planned %d done %d failed %d reported %d, want 70/70/0/70 (%v)", s.Run.RepairsPlanned, s.Run.RepairsDone, s.Run.RepairsFailed, reported.Load(), s.Failures)
	}
	if s.Run.ByKind[string(MissingDeleteMarker)] != 10 || s.Run.ByKind[string(LostConflict)] != 10 {
		t.Errorf("by kind %v", s.Run.ByKind)
	}
	assertConverged(t, b)
	if b.fs.MaxKeysAsked() != 7 || b.fs.Count("ListPage") < 3*50/7 {
		t.Errorf("listing asked %d pages of at most %d entries, want pages of 7", b.fs.Count("ListPage"), b.fs.MaxKeysAsked())
	}

	again, err := newRunner(t, b, nil, Options{PageSize: 7}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if again.Run.RepairsPlanned != 0 || again.Run.KeysScanned != 50 {
		t.Errorf("second run planned %d repairs over %d keys, want 0 over 50", again.Run.RepairsPlanned, again.Run.KeysScanned)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	b := newBuckets()
	diverge(b, 20)
	before := [3]map[string]string{b.state(eu), b.state(us), b.state(ap)}
	var kinds []string
	s, err := newRunner(t, b, nil, Options{DryRun: true, OnRepair: func(r Repair, o replication.Outcome) {
		if o.Status != "" {
			t.Errorf("dry run reported outcome %+v", o)
		}
		kinds = append(kinds, string(r.Kind))
	}, Workers: 1}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Run.RepairsPlanned != 28 || s.Run.RepairsDone != 0 || len(kinds) != 28 {
		t.Errorf("planned %d, done %d, reported %d; want 28, 0, 28", s.Run.RepairsPlanned, s.Run.RepairsDone, len(kinds))
	}
	for i, r := range []string{eu, us, ap} {
		if !maps.Equal(b.state(r), before[i]) {
			t.Errorf("dry run changed %s", r)
		}
	}
}

// cancelAfter is a Repairer that cancels the run after n repairs, like a process killed in
// the middle of a batch.
type cancelAfter struct {
	next   Repairer
	n      atomic.Int64
	cancel context.CancelFunc
}

func (c *cancelAfter) Repair(ctx context.Context, r replication.Repair) (replication.Outcome, error) {
	if c.n.Add(-1) < 0 {
		c.cancel()
		return replication.Outcome{Status: replication.Failed}, ctx.Err()
	}
	return c.next.Repair(ctx, r)
}

func TestInterruptedRunResumesFromCheckpoint(t *testing.T) {
	b := newBuckets()
	diverge(b, 60)
	ref := newBuckets()
	diverge(ref, 60)
	if _, err := newRunner(t, ref, nil, Options{}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}

	cp := fileCheckpoint(t, filepath.Join(t.TempDir(), "cp", "reconcile.json"))
	engine, _ := replication.New(b, testMembers, replication.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	killer := &cancelAfter{next: engine, cancel: cancel}
	killer.n.Store(30)
	_, err := newRunner(t, b, killer, Options{PageSize: 10, Workers: 2, Checkpoint: cp}).Run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: err = %v, want context canceled", err)
	}
	saved, _, ok, err := loadCheckpoint(context.Background(), cp)
	if err != nil || !ok || saved.Complete || saved.After == "" {
		t.Fatalf("checkpoint after the interruption = %+v, %v, %v; want an incomplete pass with a place", saved, ok, err)
	}

	s, err := newRunner(t, b, nil, Options{PageSize: 10, Workers: 2, Checkpoint: cp}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !s.Resumed || !s.Complete || s.Run.KeysScanned >= 60 || s.Pass.KeysScanned != 60 {
		t.Errorf("resumed run: resumed %v complete %v, run scanned %d, pass scanned %d; want a resumed complete pass of 60 keys", s.Resumed, s.Complete, s.Run.KeysScanned, s.Pass.KeysScanned)
	}
	assertConverged(t, b)
	for _, r := range []string{eu, us, ap} {
		if got, want := b.state(r), ref.state(r); !maps.Equal(got, want) {
			t.Errorf("%s after resume differs from an uninterrupted run", r)
		}
	}
	fresh, err := newRunner(t, b, nil, Options{Checkpoint: cp}).Run(context.Background())
	if err != nil || fresh.Resumed || fresh.Run.RepairsPlanned != 0 {
		t.Errorf("next pass: resumed %v, planned %d, err %v; want a fresh pass with an empty plan", fresh.Resumed, fresh.Run.RepairsPlanned, err)
	}
}

func TestBudgetStopsAtBatchBoundary(t *testing.T) {
	b := newBuckets()
	diverge(b, 30)
	cp := fileCheckpoint(t, filepath.Join(t.TempDir(), "cp.json"))
	var ticks atomic.Int64
	now := func() time.Time { return t0.Add(time.Duration(ticks.Add(1)) * time.Second) }
	runs := 0
	for {
		runs++
		s, err := newRunner(t, b, nil, Options{PageSize: 5, Budget: 3 * time.Second, Checkpoint: cp, Now: now}).Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if s.Complete {
			if s.Pass.KeysScanned != 30 || s.Pass.RepairsPlanned != 42 {
				t.Errorf("pass: %d keys, %d repairs; want 30 and 42", s.Pass.KeysScanned, s.Pass.RepairsPlanned)
			}
			break
		}
		if s.Run.KeysScanned%5 != 0 || s.Run.KeysScanned == 0 {
			t.Errorf("run %d stopped after %d keys, want whole batches of 5", runs, s.Run.KeysScanned)
		}
		if runs > 10 {
			t.Fatal("the budget never let the pass finish")
		}
	}
	if runs < 2 {
		t.Errorf("one run did it all; the budget did not stop anything")
	}
	assertConverged(t, b)
}

func TestScopeLimitsKeys(t *testing.T) {
	tests := []struct {
		name  string
		scope Scope
		want  int64
	}{
		{name: "prefix", scope: Scope{Prefix: "k001"}, want: 10},
		{name: "key range", scope: Scope{StartAfter: "k0005", End: "k0012"}, want: 6},
		{name: "prefix and range", scope: Scope{Prefix: "k00", StartAfter: "k0095"}, want: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBuckets()
			diverge(b, 100)
			var keys []string
			s, err := newRunner(t, b, nil, Options{Scope: tt.scope, PageSize: 3, DryRun: true, Workers: 1, OnRepair: func(r Repair, _ replication.Outcome) { keys = append(keys, r.Key) }}).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if s.Run.KeysScanned != tt.want {
				t.Errorf("scanned %d keys, want %d", s.Run.KeysScanned, tt.want)
			}
			for _, k := range keys {
				if !strings.HasPrefix(k, tt.scope.Prefix) || k <= tt.scope.StartAfter || (tt.scope.End != "" && k >= tt.scope.End) {
					t.Errorf("repair of %q outside the scope %+v", k, tt.scope)
				}
			}
		})
	}
}

func TestExcludedPrefixesAreLeftAlone(t *testing.T) {
	b := newBuckets()
	b.put(eu, ".mrap-canary/eu-west-1", "canary")
	b.put(us, ".mrap-state/failover.json", "{}")
	b.put(eu, "data", "x")
	r := newRunner(t, b, nil, Options{Exclude: DefaultExclude()})
	s, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Run.KeysScanned != 1 || s.Run.RepairsDone != 2 {
		t.Errorf("scanned %d keys, repaired %d; want only the data key, twice", s.Run.KeysScanned, s.Run.RepairsDone)
	}
	if _, ok := b.state(us)[".mrap-canary/eu-west-1"]; ok {
		t.Error("a canary was replicated")
	}
	if res, err := r.ReconcileKey(context.Background(), ".mrap-state/failover.json"); err != nil || len(res) != 0 {
		t.Errorf("ReconcileKey of engine state: %v, %v; want nothing done", res, err)
	}
}

func TestReadsOnlyWhatThePlanNeeds(t *testing.T) {
	b := newBuckets()
	v := b.put(eu, "converged", "x")
	replicate(b, eu, "converged", v, "x", us, ap)
	b.put(eu, "deleted", "y")
	b.tick(time.Minute)
	b.del(us, "deleted")
	b.del(eu, "deleted")
	b.del(ap, "gone")
	s, err := newRunner(t, b, nil, Options{DryRun: true}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// converged: 3 reads; deleted: eu's old object is older than the markers, no read; gone: none.
	if s.Run.Reads != 3 || b.reads() != 3 {
		t.Errorf("reads = %d (store saw %d), want 3", s.Run.Reads, b.reads())
	}
	if s.Run.RepairsPlanned != 0 {
		t.Errorf("planned %d repairs, want 0", s.Run.RepairsPlanned)
	}

	b.fs.ResetCalls()
	s, _ = newRunner(t, b, nil, Options{DryRun: true, TrustMatchingETags: true}).Run(context.Background())
	if b.reads() != 0 || s.Run.KeysScanned != 3 {
		t.Errorf("trusting ETags: %d reads over %d keys, want 0 over 3", b.reads(), s.Run.KeysScanned)
	}
}

func TestMinAgeLeavesRecentKeysToTheReplicator(t *testing.T) {
	b := newBuckets()
	b.put(eu, "old", "x")
	b.tick(time.Hour)
	b.put(eu, "new", "y")
	s, err := newRunner(t, b, nil, Options{MinAge: time.Minute, Now: func() time.Time { return b.now() }}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Run.Skipped != 1 || s.Run.RepairsDone != 2 {
		t.Errorf("skipped %d, repaired %d; want 1 recent key skipped and 2 repairs of the old one", s.Run.Skipped, s.Run.RepairsDone)
	}
	if _, ok := b.state(us)["new"]; ok {
		t.Error("the recent key was repaired")
	}
}

func TestReconcileKey(t *testing.T) {
	b := newBuckets()
	b.put(us, "a b+c", "x")
	res, err := newRunner(t, b, nil, Options{}).ReconcileKey(context.Background(), "a b+c")
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Outcome.Status != replication.Replicated || res[1].Outcome.Status != replication.Replicated {
		t.Fatalf("results %+v, want two replicated repairs", res)
	}
	assertConverged(t, b)
	res, err = newRunner(t, b, nil, Options{}).ReconcileKey(context.Background(), "a b+c")
	if err != nil || len(res) != 0 {
		t.Errorf("second reconcile: %d repairs, err %v; want none", len(res), err)
	}
	if _, err := newRunner(t, b, nil, Options{}).ReconcileKey(context.Background(), ""); !replication.IsPermanent(err) {
		t.Errorf("empty key: err = %v, want a permanent error", err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	b := newBuckets()
	e, _ := replication.New(b, testMembers, replication.Options{})
	if _, err := New(b, e, testMembers[:1], Options{}); err == nil {
		t.Error("accepted one member")
	}
	if _, err := New(b, e, testMembers, Options{Scope: Scope{StartAfter: "m", End: "a"}}); err == nil {
		t.Error("accepted an empty key range")
	}
	if _, err := New(nil, e, testMembers, Options{}); err == nil {
		t.Error("accepted a nil store")
	}
}

// blockUntil is a Repairer that waits for a signal before each repair.
type blockUntil struct {
	next Repairer
	ch   <-chan struct{}
}

func (b *blockUntil) Repair(ctx context.Context, r replication.Repair) (replication.Outcome, error) {
	select {
	case <-b.ch:
	case <-time.After(10 * time.Second):
		return replication.Outcome{}, errors.New("no progress report while the batch ran")
	}
	return b.next.Repair(ctx, r)
}

func TestProgressIsReportedWhileABatchRuns(t *testing.T) {
	b := newBuckets()
	b.put(eu, "k", "x")
	engine, _ := replication.New(b, testMembers, replication.Options{})
	progressed := make(chan struct{})
	var once sync.Once
	var reports []Progress
	var mu sync.Mutex
	r := newRunner(t, b, &blockUntil{next: engine, ch: progressed}, Options{ProgressEvery: time.Millisecond, Progress: func(p Progress) {
		mu.Lock()
		reports = append(reports, p)
		mu.Unlock()
		once.Do(func() { close(progressed) })
	}})
	s, err := r.Run(context.Background())
	if err != nil || s.Run.RepairsDone != 2 {
		t.Fatalf("run: %+v, %v (%v)", s.Run, err, s.Failures)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reports) < 2 || reports[0].Done || !reports[len(reports)-1].Done || reports[len(reports)-1].RepairsDone != 2 {
		t.Errorf("reports %+v, want one during the batch and a final one", reports)
	}
}

// fileCheckpoint is the checkpoint file the local runs use (a docstore file document).
func fileCheckpoint(t *testing.T, path string) docstore.Document {
	t.Helper()
	d, err := docstore.File(path)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// interleaved is a checkpoint whose first save lets another pass run first.
type interleaved struct {
	CheckpointStore
	once   sync.Once
	before func()
}

func (i *interleaved) SaveIf(ctx context.Context, doc []byte, version string) (string, error) {
	i.once.Do(i.before)
	return i.CheckpointStore.SaveIf(ctx, doc, version)
}

// Two passes over one checkpoint (the scheduled reconciler and an operator's mrapctl
// reconcile): the one whose checkpoint was saved by the other since it read it stops at its
// next save with ErrConcurrentPass, and the other's progress stands.
func TestASecondPassOverOneCheckpointStopsAtItsFirstSave(t *testing.T) {
	b := newBuckets()
	diverge(b, 40)
	cp := fileCheckpoint(t, filepath.Join(t.TempDir(), "reconcile.json"))
	var first Summary
	second := &interleaved{CheckpointStore: cp, before: func() {
		s, err := newRunner(t, b, nil, Options{PageSize: 10, Workers: 2, Checkpoint: cp}).Run(context.Background())
		if err != nil {
			t.Errorf("the first pass: %v", err)
		}
		first = s
	}}
	_, err := newRunner(t, b, nil, Options{PageSize: 10, Workers: 2, Checkpoint: second}).Run(context.Background())
	if !errors.Is(err, ErrConcurrentPass) {
		t.Fatalf("the second pass: %v, want ErrConcurrentPass", err)
	}
	saved, _, ok, err := loadCheckpoint(context.Background(), cp)
	if err != nil || !ok || !saved.Complete || saved.Counts.KeysScanned != first.Pass.KeysScanned {
		t.Errorf("checkpoint %+v (%v, %v), want the first pass's, complete with %d keys", saved, ok, err, first.Pass.KeysScanned)
	}
}
