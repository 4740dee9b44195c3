package integration

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/shared/reconcile"
	"github.com/mrap-engine/mrap/shared/replication"
	"github.com/mrap-engine/mrap/shared/s3store"
)

var (
	chaosSeedFlag = flag.Uint64("chaos.seed", 0, "replay one chaos run by its seed (also MRAP_CHAOS_SEED)")
	chaosLongFlag = flag.Bool("chaos.long", false, "run the long chaos mode: thousands of operations (also MRAP_CHAOS_LONG=1)")
	// chaosMarkers times delete markers as S3 does. versitygw v1.8.0 gives a marker the time
	// of the version it hides, which keeps the engine's own delete markers from ever looking
	// newer than a later user write; with S3's timing the test checks that such writes are not
	// lost (an engine-written marker has the origin recorded for it: docs/contracts.md).
	chaosMarkers = flag.Bool("chaos.s3-marker-times", false, "time delete markers like S3 (the delete's time), not like versitygw (also MRAP_CHAOS_S3_MARKER_TIMES=1)")
)

// injectedFault matches the errors the chaos test injects.
var injectedFault = regexp.MustCompile(`(?i)chaos|SlowDown|connection reset|i/o timeout|local Region`)

// chaosLong reports whether the long mode of the chaos and failover-safety tests is on.
func chaosLong() bool {
	return *chaosLongFlag || os.Getenv("MRAP_CHAOS_LONG") == "1"
}

// chaosSeed returns the seed to run: the flag, the environment, or a fresh one.
func chaosSeed(t testing.TB) uint64 {
	if *chaosSeedFlag != 0 {
		return *chaosSeedFlag
	}
	if v := os.Getenv("MRAP_CHAOS_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("MRAP_CHAOS_SEED=%q: %v", v, err)
		}
		return s
	}
	return uint64(time.Now().UnixNano())
}

// chaosPlan sizes one run.
type chaosPlan struct {
	WorkersPerRegion, OpsPerWorker, Keys int
	MaxPause                             time.Duration // between two operations of a worker
	DeliverersPerRegion                  int
	Queue                                queueFaults
	Transport                            transportFaults
	DeleteShare                          float64
	// BurstShare is the share of a worker's steps that are a burst: 2 to MaxBurst writes of one
	// key in the worker's Region without a pause (most within one second, which
	// Last-Modified cannot tell apart), each event dropped (BurstDrop), sent without a
	// sequencer (BurstNoSequencer) or sent as S3 sends it.
	BurstShare, BurstDrop, BurstNoSequencer float64
	MaxBurst                                int
	// TagShare is the share of single steps that replace the tag set of the key's current
	// version in the worker's Region (PutObjectTagging, an "Object Tags Added" event).
	TagShare float64
}

func shortChaosPlan() chaosPlan {
	return chaosPlan{
		WorkersPerRegion: 3, OpsPerWorker: 34, Keys: 24, MaxPause: 300 * time.Millisecond, DeliverersPerRegion: 4,
		Queue:       queueFaults{Drop: 0.08, Duplicate: 0.15, MaxDelay: 1500 * time.Millisecond, MaxReceives: 4, RetryBackoff: 300 * time.Millisecond},
		Transport:   transportFaults{SlowDown: 0.04, Timeout: 0.02},
		DeleteShare: 0.3,
		BurstShare:  0.12, BurstDrop: 0.4, BurstNoSequencer: 0.3, MaxBurst: 4,
		TagShare: 0.12,
	}
}

func longChaosPlan() chaosPlan {
	p := shortChaosPlan()
	// 3 Regions x 6 workers x 560 steps, bursts adding ~0.2 writes per step: over 10,000
	// operations.
	p.WorkersPerRegion, p.OpsPerWorker, p.Keys, p.MaxPause = 6, 560, 200, 80*time.Millisecond
	return p
}

// TestChaosConvergence writes, overwrites and deletes overlapping keys concurrently in three
// local Regions while the events reach each Region's replication engine through a queue that
// drops, duplicates, delays and reorders them, the engine's S3 requests meet injected 503s
// and timeouts, and one Region is unreachable from the engine in the middle of the run.
// Version ids sort against time (opaqueIDs mirrors versitygw's ULIDs), and workers write in
// bursts: 2 to 4 writes of one key in their Region within one second, whose events are
// dropped or sent without a sequencer, so only the origin bucket's order tells the latest;
// some steps replace the tag set of a key's current version ("Object Tags Added"), and the
// reconcile pass compares tag sets (CompareTags).
// After quiescence and one reconcile pass, every Region must serve the same current state of
// every key (bytes, user metadata, content type, tags, delete markers), it must be the
// acknowledged write the conflict rule names, and no winning write may have been overwritten
// by the engine in its own Region (strict: each one fails the run). Replay a run with
// -chaos.seed=N (or MRAP_CHAOS_SEED=N); -chaos.long (or MRAP_CHAOS_LONG=1) runs over 10,000
// operations.
func TestChaosConvergence(t *testing.T) {
	skipShort(t)
	seed := chaosSeed(t)
	plan, mode := shortChaosPlan(), "short"
	if chaosLong() {
		plan, mode = longChaosPlan(), "long"
	}
	replay := fmt.Sprintf("replay: go test ./integration -run TestChaosConvergence -v -chaos.seed=%d", seed)
	if mode == "long" {
		replay += " -chaos.long"
	}
	markers := *chaosMarkers || os.Getenv("MRAP_CHAOS_S3_MARKER_TIMES") == "1"
	if markers {
		mode += ", delete markers timed like S3"
		replay += " -chaos.s3-marker-times"
	}
	t.Logf("chaos run (%s mode), seed %d (%s)", mode, seed, replay)
	defer func() {
		if t.Failed() {
			t.Logf("FAILED with seed %d; %s", seed, replay)
		}
	}()
	w := startChaosWorld(t, seed, plan.Queue, plan.Transport, markers)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	keys := chaosKeys(plan.Keys)

	// Replicator workers of every Region.
	var deliverers sync.WaitGroup
	for _, r := range chaosRegions {
		for range plan.DeliverersPerRegion {
			deliverers.Add(1)
			go func() { defer deliverers.Done(); w.deliver(ctx, r) }()
		}
	}

	// Writers; the Region chosen by the seed is unreachable from the engine for the middle
	// third of the operations (its own users keep writing to it: a partition).
	rng := rand.New(rand.NewPCG(seed, 0xc4a05))
	downRegion := chaosRegions[rng.IntN(len(chaosRegions))]
	total := int64(len(chaosRegions) * plan.WorkersPerRegion * plan.OpsPerWorker)
	var done atomic.Int64
	var downAt, upAt time.Time
	var downOnce, upOnce sync.Once
	var puts, dels, tagChanges, bursts, sameSecond atomic.Int64
	start := time.Now()
	var writers sync.WaitGroup
	for ri, r := range chaosRegions {
		for wi := range plan.WorkersPerRegion {
			wrng := rand.New(rand.NewPCG(seed, uint64(ri*100+wi+1)))
			writers.Add(1)
			go func() {
				defer writers.Done()
				for op := range plan.OpsPerWorker {
					time.Sleep(time.Duration(wrng.Int64N(int64(plan.MaxPause) + 1)))
					key := keys[wrng.IntN(len(keys))]
					n := 1
					if wrng.Float64() < plan.BurstShare || op == plan.OpsPerWorker-1 { // a worker ends with a burst: its last writes are not overwritten by later ones
						n = 2 + wrng.IntN(plan.MaxBurst-1)
						bursts.Add(1)
					}
					var prev time.Time
					if n > 1 {
						// Start at the top of a second and spread the burst over it: the events of
						// early writes may then be applied before the later writes land (a
						// destination holds a same-second write of the origin), which is what
						// only the origin's order can sort out.
						now := time.Now()
						time.Sleep(now.Truncate(time.Second).Add(time.Second + 20*time.Millisecond).Sub(now))
					}
					for b := range n {
						if b > 0 {
							time.Sleep(time.Duration(wrng.Int64N(int64(900*time.Millisecond) / int64(n-1))))
						}
						name := fmt.Sprintf("%s/w%d/op%d", r, wi, op)
						fate := eventSent
						if n > 1 {
							name += fmt.Sprintf(".%d", b)
							switch f := wrng.Float64(); {
							case f < plan.BurstDrop:
								fate = eventDropped
							case f < plan.BurstDrop+plan.BurstNoSequencer:
								fate = eventNoSequencer
							}
						}
						var at time.Time
						if n == 1 && wrng.Float64() < plan.TagShare {
							w.tag(ctx, r, key, name, eventSent)
							tagChanges.Add(1)
						} else if wrng.Float64() < plan.DeleteShare {
							at = w.del(ctx, r, key, name, fate)
							dels.Add(1)
						} else {
							at = w.put(ctx, wrng, r, key, name, fate)
							puts.Add(1)
						}
						if b > 0 && !at.IsZero() && at.Truncate(time.Second).Equal(prev.Truncate(time.Second)) {
							sameSecond.Add(1)
						}
						if !at.IsZero() {
							prev = at
						}
						switch d := done.Add(1); {
						case d == total/3:
							downOnce.Do(func() { downAt = time.Now(); w.proxies[downRegion].Set("down", 0) })
						case d == 2*total/3:
							upOnce.Do(func() { upAt = time.Now(); w.proxies[downRegion].Set("up", 0) })
						}
					}
				}
			}()
		}
	}
	writers.Wait()
	writeTime := time.Since(start)

	// Quiescence: faults off, every Region reachable, every queue drained.
	w.transport.enabled.Store(false)
	for _, p := range w.proxies {
		p.Set("up", 0)
	}
	quiet := time.Now()
	for !allIdle(w) {
		if time.Since(quiet) > 3*time.Minute {
			t.Fatal("queues not drained after 3 minutes")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, q := range w.queues {
		q.close()
	}
	deliverers.Wait()
	drainTime := time.Since(quiet)

	// One reconcile pass, with clean clients straight to the Regions.
	clients := map[string]s3store.S3API{}
	for r, c := range w.direct {
		clients[r] = c
	}
	store, err := s3store.New(clients, s3store.Options{PartSize: 5 * s3store.MiB})
	must(t, err, "reconcile store")
	engine, err := replication.New(store, w.members, replication.Options{})
	must(t, err, "reconcile engine")
	runner, err := reconcile.New(store, engine, w.members, reconcile.Options{Workers: 4, PageSize: 500, CompareTags: true})
	must(t, err, "reconcile runner")
	sum, err := runner.Run(ctx)
	must(t, err, "reconcile pass")

	// Report.
	var qs queueStats
	var dead []string
	for _, r := range chaosRegions {
		s, d := w.queues[r].snapshot()
		qs.add(s)
		dead = append(dead, d...)
	}
	reqs, injected := w.transport.faultCounts()
	t.Logf("operations: %d puts, %d deletes in %s over %d keys (%d writers per Region); %d writes of unknown outcome; %d deletes of a deleted key (no-ops)",
		puts.Load(), dels.Load(), writeTime.Round(time.Millisecond), len(keys), plan.WorkersPerRegion, len(w.failed), w.noopDeletes.Load())
	t.Logf("bursts: %d (writes of one key in one Region within one second), %d writes in the same second as the one before; user events: %d sent, %d dropped, %d without a sequencer",
		bursts.Load(), sameSecond.Load(), w.fates[eventSent].Load(), w.fates[eventDropped].Load(), w.fates[eventNoSequencer].Load())
	t.Logf("events: %d published (%d engine echoes), %d dropped, %d duplicated, %d deliveries (%d redeliveries), %d dead-lettered; queues drained %s after the writes",
		qs.Published, w.echoes.Load(), qs.Dropped, qs.Duplicated, qs.Delivered, qs.Redelivered, qs.DeadLettered, drainTime.Round(time.Millisecond))
	t.Logf("faults: %d engine S3 requests, injected %v; %s unreachable from the engine for %s; %d applies failed (%d permanent)",
		reqs, injected, downRegion, upAt.Sub(downAt).Round(time.Millisecond), w.applyErrors.Load(), w.permanentErrors.Load())
	for k, why := range w.failed {
		t.Logf("unknown outcome %q: %s", k, why)
	}
	if len(dead) > 0 {
		t.Logf("first dead letters: %s", strings.Join(dead[:min(3, len(dead))], " | "))
	}
	t.Logf("reconcile: %d keys scanned, %d divergent, %d repairs planned, %d done, %d failed %v",
		sum.Run.KeysScanned, sum.Run.DivergentKeys, sum.Run.RepairsPlanned, sum.Run.RepairsDone, sum.Run.RepairsFailed, sum.Run.ByKind)
	// An injected fault (503, timeout, reset) must never be taken for a permanent error; other
	// permanent errors (versitygw answers 405 to a PutObject racing a delete of the same key)
	// are dead-lettered and left to the reconciler, as on AWS.
	for _, msg := range w.permanentMsgs {
		if injectedFault.MatchString(msg) {
			t.Errorf("an injected fault was taken for a permanent error: %s", msg)
		} else {
			t.Logf("permanent error (dead-lettered, left to reconcile): %s", msg)
		}
	}
	if sum.Run.RepairsFailed > 0 {
		t.Errorf("reconcile: %d repairs failed: %v", sum.Run.RepairsFailed, sum.Failures)
	}

	divergent, wrong, undone := checkConvergence(t, ctx, w)
	t.Logf("RESULT operations %d (%d puts, %d deletes, %d tag changes, %d of a deleted key), divergent keys %d, keys not on the conflict rule's winner %d, winning writes the engine undid %d (all three must be 0); duration %s",
		puts.Load()+dels.Load()+tagChanges.Load(), puts.Load(), dels.Load(), tagChanges.Load(), w.noopTags.Load(), divergent, wrong, undone, time.Since(start).Round(time.Second))
	if undone > 0 {
		t.Errorf("%d winning writes undone by the engine", undone)
	}
	if sameSecond.Load() == 0 || w.fates[eventDropped].Load() == 0 || w.fates[eventNoSequencer].Load() == 0 {
		t.Errorf("no same-second burst with lost events or events without a sequencer: the run proves nothing about one-second Last-Modified")
	}
	if qs.Dropped == 0 || qs.Duplicated == 0 || injected["503-after"]+injected["503-before"] == 0 {
		t.Errorf("the run injected too little chaos to prove anything: %+v %v", qs, injected)
	}
}

func allIdle(w *chaosWorld) bool {
	for _, q := range w.queues {
		if !q.idle() {
			return false
		}
	}
	return true
}

// checkConvergence compares every Region's state of every key with the others and with the
// winner of the acknowledged writes; it reports each difference and returns the counts.
//
// A winning write deleted by an engine-written delete marker (in its own Region, or while
// such a marker would beat it by its own time, later than the delete it replicates) counts
// as wrong: fixed by the delete marker records (docs/contracts.md), which give such a marker
// the origin of the delete and keep its echo from being replicated.
//
// undone counts the keys whose winning write the engine itself overwrote in its own Region
// with a replica of a losing write (the engine read a destination, then wrote; or it took an
// older write of one second for the newer): each one is reported and fails the run.
func checkConvergence(t *testing.T, ctx context.Context, w *chaosWorld) (divergent, wrong, undone int) {
	t.Helper()
	snaps := map[string]map[string]keyState{}
	engineMarkers := map[string][]replication.Origin{}
	all := map[string]bool{}
	for _, r := range chaosRegions {
		s, em, err := w.snapshot(ctx, r)
		must(t, err, "snapshot %s", r)
		snaps[r] = s
		for k, origins := range em {
			engineMarkers[k] = append(engineMarkers[k], origins...)
		}
		for k := range s {
			all[k] = true
		}
	}
	for k := range w.writes {
		all[k] = true
	}
	reported := 0
	report := func(format string, args ...any) {
		if reported < 15 {
			t.Errorf(format, args...)
		}
		reported++
	}
	for _, key := range slices.Sorted(maps.Keys(all)) {
		states := map[string]keyState{}
		for _, r := range chaosRegions {
			s, ok := snaps[r][key]
			if !ok {
				s = keyState{Deleted: true} // absent serves like deleted
			}
			states[r] = s
		}
		first := states[chaosRegions[0]]
		same := true
		for _, r := range chaosRegions[1:] {
			same = same && states[r] == first
		}
		writes := w.writes[key]
		var view []string
		for _, r := range chaosRegions {
			view = append(view, fmt.Sprintf("\n      %-15s %s", r, states[r]))
		}
		if !same {
			divergent++
			report("divergent key %q:%s\n    acknowledged writes:%s", key, strings.Join(view, ""), history(writes))
			continue
		}
		if _, unknown := w.failed[key]; unknown {
			continue // a write of unknown outcome may or may not be the winner
		}
		if len(writes) == 0 {
			wrong++
			report("key %q was never written by a user but Regions serve %s", key, first)
			continue
		}
		win := expected(writes)
		want := win.state()
		if tags, exact := w.expectedTags(win); win.Deleted {
			// a delete marker carries no tags
		} else if exact {
			want.Tags = tags
		} else if tags != first.Tags && !slices.Contains(w.tagSets(win), first.Tags) {
			wrong++
			report("key %q serves tags %s, none of the sets acknowledged for the winning write %s/%s", key, first.Tags, win.Region, win.VersionID)
			continue
		} else {
			want.Tags = first.Tags // a replica's tag change may or may not prevail (docs/contracts.md "Tag changes")
		}
		if first != want {
			over, overwritten, err := w.overwrittenByEngine(ctx, win)
			must(t, err, "versions of %q", key)
			if overwritten && over.DeleteMarker {
				// Fixed (delete marker records): the echo of an engine-written delete marker no
				// longer deletes a later write where it was made. A hard failure now.
				wrong++
				report("key %q: the winning write %s/%s (%s) was overwritten in its own Region by the engine with a delete marker\n    acknowledged writes:%s",
					key, win.Region, win.VersionID, win.Op, history(writes))
				continue
			}
			if overwritten {
				undone++
				report("key %q: the winning write %s/%s (%s) was overwritten in its own Region by the engine with a replica of %s\n    acknowledged writes:%s",
					key, win.Region, win.VersionID, win.Op, over.Origin, history(writes))
				continue
			}
			if i := slices.IndexFunc(engineMarkers[key], func(o replication.Origin) bool { return replication.Wins(o, win.origin()) }); first.Deleted && i >= 0 {
				// Fixed (delete marker records, docs/contracts.md): a hard failure now.
				wrong++
				report("key %q: the winning write %s/%s (%s) was deleted: the engine's delete marker %s (its own time) beats it\n    acknowledged writes:%s",
					key, win.Region, win.VersionID, win.Op, engineMarkers[key][i], history(writes))
				continue
			}
			wrong++
			report("key %q converged on %s\n    but the conflict rule names %s\n    acknowledged writes:%s", key, first, want, history(writes))
		}
	}
	return divergent, wrong, undone
}

// expectedTags returns the tag set the winning write win must carry everywhere: its own, or
// the last tag change acknowledged on its copy in its origin Region (the authority, by the
// tag rule of docs/contracts.md), exact. When a tag change was made on a replica of win, the
// rule lets either prevail: exact is false and tags is win's last origin-made set.
func (w *chaosWorld) expectedTags(win ackWrite) (tags string, exact bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	tags, exact = renderMap(win.Tags), true
	last := ""
	for _, tc := range w.tags[win.Key] {
		if tc.Origin.Region != win.Region || tc.Origin.VersionID != win.VersionID {
			continue
		}
		if tc.Region != win.Region {
			exact = false
			continue
		}
		if tc.Seq > last {
			tags, last = renderMap(tc.Tags), tc.Seq
		}
	}
	return tags, exact
}

// tagSets returns every tag set acknowledged for the write win (its own and each change).
func (w *chaosWorld) tagSets(win ackWrite) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := []string{renderMap(win.Tags)}
	for _, tc := range w.tags[win.Key] {
		if tc.Origin.Region == win.Region && tc.Origin.VersionID == win.VersionID {
			out = append(out, renderMap(tc.Tags))
		}
	}
	return out
}
