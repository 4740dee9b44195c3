package replication_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mrap-engine/mrap/events"
	"github.com/mrap-engine/mrap/shared/internal/fakestore"
	. "github.com/mrap-engine/mrap/shared/replication"
)

// condStore is memStore as a ConditionalStore (fakestore.Conditional): its writes check
// their condition under the store lock, like S3 and versitygw's PutObject.
// refuseAbsentOverMarker mimics versitygw v1.8.0, which fails If-None-Match when the current
// version is a delete marker; ignoreConditions mimics a store that accepts the headers but
// does not check them.
type condStore struct {
	*memStore
	atomic                 bool
	refuseAbsentOverMarker bool
	ignoreConditions       bool
}

var _ ConditionalStore = (*condStore)(nil)

func (s *condStore) c() *fakestore.Conditional {
	return &fakestore.Conditional{Store: s.Store, NotAtomic: !s.atomic, RefuseAbsentOverMarker: s.refuseAbsentOverMarker, IgnoreConditions: s.ignoreConditions}
}

func (s *condStore) Atomic(string, bool, int64) bool { return s.atomic }

func (s *condStore) Copy(ctx context.Context, req CopyRequest) (int64, error) {
	return s.c().Copy(ctx, req)
}

func (s *condStore) PutDeleteMarkerIf(ctx context.Context, region, bucket, key string, cond Condition) error {
	return s.c().PutDeleteMarkerIf(ctx, region, bucket, key, cond)
}

func (s *condStore) PutReplicaDeleteMarker(ctx context.Context, region, bucket, key string, origin Origin, cond Condition) error {
	return s.c().PutReplicaDeleteMarker(ctx, region, bucket, key, origin, cond)
}

// raceWorld is three Regions, one engine per Region (as the replicator runs in each), and a
// user write of one key in eu-west-1 and in us-east-1 in the same second. By the conflict rule
// us-east-1's write wins (same origin time, greater Region name).
type raceWorld struct {
	mem          *memStore
	store        Store
	eu, us       *Engine
	euEv, usEv   events.ObjectChange
	euRes, usRes Result
}

func newRaceWorld(t *testing.T, wrap func(*memStore) Store) *raceWorld {
	t.Helper()
	mem := newMemStore("eu-west-1", "us-east-1", "ap-southeast-2")
	w := &raceWorld{mem: mem, store: wrap(mem)}
	w.eu, w.us = newEngine(t, w.store, Options{}), newEngine(t, w.store, Options{})
	w.euEv = createdEvent("eu-west-1", "k", mem.put("eu-west-1", "k", "written in eu", nil))
	w.usEv = createdEvent("us-east-1", "k", mem.put("us-east-1", "k", "written in us", nil))
	return w
}

// interleave applies first's change, and runs second's whole Apply just before first's
// write to ap-southeast-2 lands: between first's read of ap-southeast-2 and its write.
func (w *raceWorld) interleave(t *testing.T, firstEU bool) {
	t.Helper()
	var fired atomic.Bool
	w.mem.BeforeWrite = func(region, _ string) {
		if region != "ap-southeast-2" || !fired.CompareAndSwap(false, true) {
			return // only the first engine's first write there is interrupted
		}
		if firstEU {
			w.usRes, _ = w.us.Apply(context.Background(), w.usEv)
		} else {
			w.euRes, _ = w.eu.Apply(context.Background(), w.euEv)
		}
	}
	var err error
	if firstEU {
		w.euRes, err = w.eu.Apply(context.Background(), w.euEv)
	} else {
		w.usRes, err = w.us.Apply(context.Background(), w.usEv)
	}
	w.mem.BeforeWrite = nil
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
}

// holdings returns the body current in every Region.
func (w *raceWorld) holdings() map[string]string {
	out := map[string]string{}
	for _, r := range []string{"eu-west-1", "us-east-1", "ap-southeast-2"} {
		out[r] = w.mem.body(r, "k")
	}
	return out
}

func TestConcurrentCopiesIntoAThirdRegion(t *testing.T) {
	plain := func(m *memStore) Store { return m }
	conditional := func(m *memStore) Store { return &condStore{memStore: m, atomic: true} }
	unguarded := func(m *memStore) Store { return &condStore{memStore: m, ignoreConditions: true} }
	tests := []struct {
		name      string
		wrap      func(*memStore) Store
		firstEU   bool   // the loser (eu) reads ap-southeast-2 first and writes last
		wantAP    string // what ap-southeast-2 holds in the end
		wantAPRes string // the outcome of the interrupted Apply at ap-southeast-2
	}{
		// The bug: each engine read ap-southeast-2 (absent), decided "copy" and wrote; the
		// loser's write landed last and stayed current.
		{name: "unconditional writes diverge (the race)", wrap: plain, firstEU: true, wantAP: "written in eu", wantAPRes: "replicated:"},
		{name: "conditional write fails, is decided again and skips the winner", wrap: conditional, firstEU: true, wantAP: "written in us", wantAPRes: "skipped:destination-newer"},
		{name: "winner's conditional write fails and is made again over the loser", wrap: conditional, firstEU: false, wantAP: "written in us", wantAPRes: "replicated:"},
		{name: "store ignoring conditions: verification removes the loser's replica", wrap: unguarded, firstEU: true, wantAP: "written in us", wantAPRes: "replicated:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newRaceWorld(t, tt.wrap)
			w.interleave(t, tt.firstEU)
			got := w.holdings()
			if got["ap-southeast-2"] != tt.wantAP {
				t.Errorf("ap-southeast-2 holds %q, want %q (all: %v)", got["ap-southeast-2"], tt.wantAP, got)
			}
			res := w.usRes
			if tt.firstEU {
				res = w.euRes
			}
			if s := statuses(res)["ap-southeast-2"]; s != tt.wantAPRes {
				t.Errorf("interrupted Apply at ap-southeast-2: %s, want %s", s, tt.wantAPRes)
			}
			converged := got["eu-west-1"] == got["us-east-1"] && got["us-east-1"] == got["ap-southeast-2"]
			if wantConverged := tt.wantAP == "written in us"; converged != wantConverged {
				t.Errorf("converged %v, want %v: %v", converged, wantConverged, got)
			}
		})
	}
}

func TestConditionalWriteRequests(t *testing.T) {
	tests := []struct {
		name  string
		store func(*memStore) *condStore
		setup func(m *memStore) // the destination state before the change is applied
		race  func(m *memStore) // a competing write between the read and the write, once
		want  []string          // calls at ap-southeast-2, in order
		hold  string            // ap-southeast-2's current body afterwards
	}{
		{name: "common case: one read, one conditional write",
			store: func(m *memStore) *condStore { return &condStore{memStore: m, atomic: true} },
			want:  []string{"Head", "Copy"}, hold: "x"},
		{name: "a losing write in between: read again, write again",
			store: func(m *memStore) *condStore { return &condStore{memStore: m, atomic: true} },
			race:  func(m *memStore) { m.put("ap-southeast-2", "k", "older", nil) },
			want:  []string{"Head", "Copy", "Head", "Copy"}, hold: "x"},
		{name: "delete marker current, store refuses If-None-Match over it: unconditional write, verified",
			store: func(m *memStore) *condStore {
				return &condStore{memStore: m, atomic: true, refuseAbsentOverMarker: true}
			},
			setup: func(m *memStore) { m.put("ap-southeast-2", "k", "old", nil); m.del("ap-southeast-2", "k") },
			want:  []string{"Head", "Copy", "Head", "Copy", "Head", "ListVersions"}, hold: "x"},
		{name: "store without atomic checks: write, then verify",
			store: func(m *memStore) *condStore { return &condStore{memStore: m} },
			want:  []string{"Head", "Copy", "Head", "ListVersions"}, hold: "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := newMemStore("eu-west-1", "us-east-1", "ap-southeast-2")
			if tt.setup != nil {
				tt.setup(mem)
			}
			mem.tick(2e9) // the change is newer than anything set up or raced
			ev := createdEvent("eu-west-1", "k", mem.put("eu-west-1", "k", "x", nil))
			var once sync.Once
			mem.BeforeWrite = func(region, _ string) {
				if region == "ap-southeast-2" && tt.race != nil {
					once.Do(func() { tt.race(mem) })
				}
			}
			mem.ResetCalls()
			if _, err := newEngine(t, tt.store(mem), Options{}).Apply(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range mem.Calls() {
				if op, ok := strings.CutSuffix(c, " ap-southeast-2"); ok {
					got = append(got, op)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("calls at ap-southeast-2 %v, want %v", got, tt.want)
			}
			if b := mem.body("ap-southeast-2", "k"); b != tt.hold {
				t.Errorf("ap-southeast-2 holds %q, want %q", b, tt.hold)
			}
		})
	}
}

func TestWriteAttemptsAreBounded(t *testing.T) {
	mem := newMemStore("eu-west-1", "us-east-1", "ap-southeast-2")
	ev := createdEvent("eu-west-1", "k", mem.put("eu-west-1", "k", "x", nil))
	n := 0
	mem.BeforeWrite = func(region, _ string) {
		if region == "ap-southeast-2" {
			n++
			mem.put("ap-southeast-2", "k", fmt.Sprintf("noise %d", n), nil) // loses to eu-west-1 (same second, smaller Region)
		}
	}
	res, err := newEngine(t, &condStore{memStore: mem, atomic: true}, Options{WriteAttempts: 3}).Apply(context.Background(), ev)
	if !errors.Is(err, ErrConditionFailed) || IsPermanent(err) {
		t.Fatalf("error %v, want a retryable one wrapping ErrConditionFailed", err)
	}
	if n != 3 {
		t.Errorf("%d writes at ap-southeast-2, want 3", n)
	}
	if s := statuses(res); s["ap-southeast-2"] != "failed:" || s["us-east-1"] != "replicated:" {
		t.Errorf("outcomes %v, want ap-southeast-2 failed and us-east-1 replicated", s)
	}
}

func TestDeleteMarkerIsConditioned(t *testing.T) {
	mem := newMemStore("eu-west-1", "us-east-1", "ap-southeast-2")
	mem.put("ap-southeast-2", "k", "old", nil)
	mem.tick(2e9)
	mem.put("eu-west-1", "k", "x", nil)
	ev := markerEvent("eu-west-1", "k", mem.del("eu-west-1", "k"))
	var once sync.Once
	mem.BeforeWrite = func(region, _ string) {
		if region == "ap-southeast-2" {
			once.Do(func() { mem.tick(2e9); mem.put("ap-southeast-2", "k", "newer than the delete", nil) })
		}
	}
	res, err := newEngine(t, &condStore{memStore: mem, atomic: true}, Options{}).Apply(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if s := statuses(res)["ap-southeast-2"]; s != "skipped:destination-newer" {
		t.Errorf("ap-southeast-2: %s, want skipped:destination-newer", s)
	}
	if cur := mem.current("ap-southeast-2", "k"); cur.DeleteMarker || mem.Body("ap-southeast-2", cur.VersionID) != "newer than the delete" {
		t.Errorf("ap-southeast-2 current %+v, want the newer write kept", cur)
	}
}

// atomicCopies guards copies only, like s3store against versitygw (DeleteObject's If-Match is
// not checked under the per-key lock).
type atomicCopies struct{ *condStore }

func (s atomicCopies) Atomic(_ string, deleteMarker bool, _ int64) bool { return !deleteMarker }

func TestDeleteMarkerRequests(t *testing.T) {
	tests := []struct {
		name  string
		store func(*memStore) Store
		want  []string // calls at ap-southeast-2, in order
	}{
		{name: "guarded (AWS): read, conditional delete", store: func(m *memStore) Store { return &condStore{memStore: m, atomic: true} },
			want: []string{"Head", "PutDeleteMarker"}},
		{name: "unguarded deletes (versitygw): read, conditional delete, read again", store: func(m *memStore) Store { return atomicCopies{&condStore{memStore: m}} },
			want: []string{"Head", "PutDeleteMarker", "Head"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := newMemStore("eu-west-1", "us-east-1", "ap-southeast-2")
			mem.put("ap-southeast-2", "k", "old", nil)
			mem.tick(2e9)
			ev := markerEvent("eu-west-1", "k", mem.del("eu-west-1", "k"))
			mem.ResetCalls()
			if _, err := newEngine(t, tt.store(mem), Options{}).Apply(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range mem.Calls() {
				if op, ok := strings.CutSuffix(c, " ap-southeast-2"); ok {
					got = append(got, op)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("calls at ap-southeast-2 %v, want %v", got, tt.want)
			}
			if !mem.current("ap-southeast-2", "k").DeleteMarker {
				t.Error("ap-southeast-2 has no delete marker")
			}
		})
	}
}
