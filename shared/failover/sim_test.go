package failover

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/shared/docstore"
	"github.com/mrap-engine/mrap/shared/health"
	"github.com/mrap-engine/mrap/shared/mrap"
	"github.com/mrap-engine/mrap/shared/routing"
	"github.com/mrap-engine/mrap/shared/telemetry"
)

// The deterministic simulation of issue 10: several deciders run the real Engine over
// in-memory ports (a routes API that rejects an all-passive table, observer alarms that
// follow the truth with delays, losses and the odd lie, state copies as docstore.Memory
// that can be lost or cut off, per-decider clocks with skew and slow reads), while one
// Region at a time fails whole, is isolated, or loses its state copy. Invariants are
// checked at every step; a failure prints the seed, which MRAP_SIM_SEED replays.

const (
	simCooldown  = 5 * time.Minute
	simLease     = 3 * time.Minute
	simSkew      = 5 * time.Second
	simViewBound = 30 * time.Second
	// simDetectSteps is how many steps traffic may stay on a Region a quorum sees failing
	// while one it sees OK exists: the decisions of a step can miss (a read timed out, the
	// routes API failed) and the evacuation lands in the next.
	simDetectSteps = 6
)

type simAlarm struct {
	state   routing.State
	since   time.Time
	pending routing.State
	at      time.Time
	lieTill time.Time
}

type simWorld struct {
	t        *testing.T
	seed     uint64
	rng      *rand.Rand
	now      time.Time
	members  []string
	topo     health.Topology
	deciders []string
	policy   routing.Policy

	down, isolated string // at most one Region impaired at a time
	faultTill      time.Time
	copies         map[string]*docstore.Memory
	alarms         map[[2]string]*simAlarm // (observer, target)
	routes         *simRoutes
	engines        map[string]*Engine
	dec            map[string]*simDecider

	lastChange, lastDamped time.Time
	badSteps               map[string]int
	counts                 map[string]int
	trace                  []string
}

// simDecider is one decider's clock and the faults drawn for its next decision.
type simDecider struct {
	w       *simWorld
	region  string
	skew    time.Duration
	mu      sync.Mutex
	extra   time.Duration // slowness added during the current decision
	slow    time.Duration // drawn before the decision: added by the routes read
	failing map[string]bool
	readAt  time.Time
}

func (d *simDecider) clock() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.w.now.Add(d.skew + d.extra)
}

func (w *simWorld) linked(a, b string) bool {
	if a == w.down || b == w.down {
		return false
	}
	if a != b && (a == w.isolated || b == w.isolated) {
		return false
	}
	return true
}

// simStore is a Region's state copy as one decider reaches it.
type simStore struct {
	d  *simDecider
	to string
}

var errSimCut = errors.New("sim: unreachable")

func (s simStore) ok() error {
	if !s.d.w.linked(s.d.region, s.to) || s.d.failing["copy:"+s.to] {
		return errSimCut
	}
	return nil
}

func (s simStore) Get(ctx context.Context, key string) (docstore.Doc, error) {
	if err := s.ok(); err != nil {
		return docstore.Doc{}, err
	}
	return s.d.w.copies[s.to].Get(ctx, key)
}

func (s simStore) Put(ctx context.Context, key string, body []byte, c docstore.Cond) (string, error) {
	if err := s.ok(); err != nil {
		return "", err
	}
	return s.d.w.copies[s.to].Put(ctx, key, body, c)
}

// simHealth is the quorum reader of one decider over the world's alarms.
type simHealth struct{ d *simDecider }

func (h simHealth) Read(context.Context) (health.View, error) {
	w := h.d.w
	obs := health.Observations{Unreadable: map[string]string{}}
	for _, o := range w.topo.Observers() {
		if !w.linked(h.d.region, o) || h.d.failing["obs:"+o] {
			obs.Unreadable[o] = "timeout"
			continue
		}
		for _, t := range w.members {
			if t == o {
				continue
			}
			a := w.alarms[[2]string{o, t}]
			obs.Got = append(obs.Got, health.Observation{Observer: o, Target: t, State: a.state, Since: a.since})
		}
	}
	return health.Quorum(w.topo, obs), nil
}

// simRoutes is the routes API: AWS's own five Regions, unreachable from a Region that is
// down or isolated; it rejects a table with every Region passive, and checks the view bound.
type simRoutes struct {
	w     *simWorld
	table map[string]int
}

type simRoutesView struct{ d *simDecider }

func (r simRoutesView) GetRoutes(context.Context) ([]mrap.Route, error) {
	w := r.d.w
	if r.d.region == w.down || r.d.region == w.isolated || r.d.failing["routes"] {
		return nil, errSimCut
	}
	r.d.mu.Lock()
	r.d.readAt = w.now.Add(r.d.skew + r.d.extra)
	r.d.extra += r.d.slow
	r.d.mu.Unlock()
	var out []mrap.Route
	for _, m := range w.members {
		out = append(out, mrap.Route{Region: m, Bucket: "b-" + m, Dial: w.routes.table[m]})
	}
	return out, nil
}

func (r simRoutesView) SubmitRoutes(_ context.Context, current []mrap.Route, desired map[string]int) (mrap.SubmitResult, error) {
	w := r.d.w
	if r.d.region == w.down || r.d.region == w.isolated {
		return mrap.SubmitResult{}, errSimCut
	}
	if age := r.d.clock().Sub(r.d.readAt); age > simViewBound {
		w.fail("decider %s submits on a view %s old, past its bound %s", r.d.region, age, simViewBound)
	}
	next := map[string]int{}
	active := 0
	for _, m := range w.members {
		next[m] = w.routes.table[m]
		if v, ok := desired[m]; ok {
			next[m] = v
		}
		if next[m] > 0 {
			active++
		}
	}
	if active == 0 {
		w.fail("decider %s submitted a table with every Region passive: %v", r.d.region, desired)
		return mrap.SubmitResult{}, errors.New("sim: every Region passive is rejected")
	}
	w.routes.table = next
	return mrap.SubmitResult{ControlRegion: "us-east-1"}, nil
}

func (w *simWorld) fail(format string, args ...any) {
	w.t.Helper()
	w.t.Fatalf("seed %d at %s: %s\nreplay: MRAP_SIM_SEED=%d go test -run TestSimulation ./shared/failover/\nrecent:\n%s",
		w.seed, w.now.Format(time.TimeOnly), fmt.Sprintf(format, args...), w.seed, strings.Join(w.trace, "\n"))
}

var simRegions = []string{"us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2"}

func newSimWorld(t *testing.T, seed uint64) *simWorld {
	rng := rand.New(rand.NewPCG(seed, seed^0xa0761d6478bd642f))
	w := &simWorld{t: t, seed: seed, rng: rng, now: now, copies: map[string]*docstore.Memory{},
		alarms: map[[2]string]*simAlarm{}, engines: map[string]*Engine{}, dec: map[string]*simDecider{},
		badSteps: map[string]int{}, counts: map[string]int{}}
	if rng.IntN(2) == 0 { // two members and a witness
		w.topo = health.Topology{Members: simRegions[:2], Witnesses: simRegions[3:4]}
	} else {
		w.topo = health.Topology{Members: simRegions[:3]}
	}
	w.members = w.topo.Members
	w.deciders = simRegions[:2]
	w.policy = routing.Policy{Mode: []routing.Mode{routing.ActiveActive, routing.ActivePassive}[rng.IntN(2)],
		Priority: slices.Clone(w.members), Cooldown: simCooldown, Failback: rng.IntN(2) == 0, FailbackWindow: time.Duration(rng.IntN(10)) * time.Minute}
	if rng.IntN(2) == 0 {
		w.policy.InsufficientData = routing.Unhealthy
	}
	w.routes = &simRoutes{w: w, table: map[string]int{}}
	for i, m := range w.members {
		w.routes.table[m] = map[bool]int{true: 100, false: 0}[i == 0 || w.policy.Mode == routing.ActiveActive]
	}
	for _, r := range w.topo.Observers() {
		w.copies[r] = docstore.NewMemory()
		for _, t := range w.members {
			if t != r {
				w.alarms[[2]string{r, t}] = &simAlarm{state: routing.OK, since: now.Add(-time.Hour)}
			}
		}
	}
	for _, r := range w.deciders {
		w.copies[r] = docstore.NewMemory()
	}
	for _, region := range w.deciders {
		d := &simDecider{w: w, region: region, skew: time.Duration(rng.IntN(int(2*simSkew))) - simSkew}
		w.dec[region] = d
		copies := StateCopies{}
		for r := range w.copies {
			copies[r] = simStore{d: d, to: r}
		}
		e, err := New(simRoutesView{d}, simHealth{d}, copies, Options{
			Regions: w.members, Policy: w.policy, Decider: region, Deciders: w.deciders,
			LeaseTTL: simLease, MaxSkew: simSkew, ViewBound: simViewBound,
			Logger: telemetry.Discard(), Now: d.clock,
		})
		if err != nil {
			t.Fatal(err)
		}
		w.engines[region] = e
	}
	return w
}

// truth is whether observer o can complete a probe of target t now.
func (w *simWorld) truth(o, t string) routing.State {
	if w.linked(o, t) && t != w.down {
		return routing.OK
	}
	return routing.Alarm
}

// evolve moves the world one step: time, faults, alarms.
func (w *simWorld) evolve(chaos bool) {
	w.now = w.now.Add(time.Duration(20+w.rng.IntN(41)) * time.Second)
	if chaos && !w.now.Before(w.faultTill) {
		w.down, w.isolated = "", ""
		all := w.topo.Observers()
		for _, r := range w.deciders {
			if !slices.Contains(all, r) {
				all = append(all, r)
			}
		}
		switch x := w.rng.IntN(100); {
		case x < 8:
			w.down = all[w.rng.IntN(len(all))]
			w.faultTill = w.now.Add(time.Duration(2+w.rng.IntN(20)) * time.Minute)
			w.counts["fault outage"]++
		case x < 14:
			w.isolated = all[w.rng.IntN(len(all))]
			w.faultTill = w.now.Add(time.Duration(2+w.rng.IntN(20)) * time.Minute)
			w.counts["fault isolate"]++
		case x < 16:
			r := all[w.rng.IntN(len(all))]
			w.copies[r].Wipe()
			w.faultTill = w.now.Add(3 * time.Minute) // the one fault until the deciders rewrite it
			w.counts["fault copy lost"]++
		default:
			w.faultTill = w.now.Add(time.Duration(1+w.rng.IntN(10)) * time.Minute)
		}
	} else if !chaos {
		w.down, w.isolated = "", ""
	}
	for k, a := range w.alarms {
		o, t := k[0], k[1]
		want := w.truth(o, t)
		switch {
		case o == w.down:
			continue // an observer that is down evaluates nothing
		case chaos && w.rng.IntN(400) == 0:
			a.lieTill = w.now.Add(time.Duration(1+w.rng.IntN(10)) * time.Minute)
			w.counts["observer lies"]++
		case chaos && w.rng.IntN(300) == 0 && a.state != routing.InsufficientData:
			a.state, a.since, a.pending = routing.InsufficientData, w.now, "" // lost data
			w.counts["observations lost"]++
			continue
		}
		if w.now.Before(a.lieTill) {
			want = routing.Alarm
		}
		if a.state == want {
			a.pending = ""
			continue
		}
		if a.pending != want {
			a.pending, a.at = want, w.now.Add(time.Duration(30+w.rng.IntN(120))*time.Second) // N of M periods, delivery
		}
		if !w.now.Before(a.at) {
			a.state, a.since, a.pending = want, a.at, ""
		}
	}
}

// step runs every decider that is not down once, with faults drawn first.
func (w *simWorld) step(chaos bool) {
	for _, region := range w.deciders {
		d := w.dec[region]
		if region == w.down {
			continue
		}
		d.failing = map[string]bool{}
		d.extra, d.slow = 0, 0
		if chaos {
			for r := range w.copies {
				if w.rng.IntN(50) == 0 {
					d.failing["copy:"+r] = true
				}
			}
			for _, o := range w.topo.Observers() {
				if w.rng.IntN(50) == 0 {
					d.failing["obs:"+o] = true
				}
			}
			if w.rng.IntN(100) == 0 {
				d.failing["routes"] = true
			}
			if w.rng.IntN(40) == 0 {
				d.slow = time.Duration(10+w.rng.IntN(40)) * time.Second // a slow dependency
			}
		}
		before := maps2str(w.routes.table)
		out, err := w.engines[region].Evaluate(context.Background(), Trigger{Kind: TriggerSchedule, Summary: "sim tick"})
		w.counts["decisions"]++
		switch {
		case out.NoQuorum:
			w.counts["no quorum"]++
		case err != nil:
			w.counts["errors"]++
		}
		if strings.HasPrefix(out.Reason, "view ") {
			w.counts["view past its bound: started over"]++
		}
		if out.Held {
			w.counts["held"]++
		}
		if out.Submitted {
			t := w.now.Add(d.skew)
			w.counts["submitted "+out.Kind]++
			if out.Kind == KindDamped {
				if !w.lastChange.IsZero() && t.Sub(w.lastChange) < simCooldown-2*simSkew {
					w.fail("damped change by %s %s after the last change (cooldown %s): %s", region, t.Sub(w.lastChange), simCooldown, out.Reason)
				}
				if out.Primary != region {
					w.fail("damped change by %s, which is not the primary (%s)", region, out.Primary)
				}
				w.lastDamped = t
			}
			w.lastChange = t
		}
		w.trace = append(w.trace, fmt.Sprintf("%s %s down=%q isolated=%q %s -> %s: %s %s", w.now.Format(time.TimeOnly), region, w.down, w.isolated, before, maps2str(w.routes.table), out.Kind, out.Reason))
		if len(w.trace) > 12 {
			w.trace = w.trace[1:]
		}
	}
}

func maps2str(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%d ", k, m[k])
	}
	return strings.TrimSpace(b.String())
}

// check asserts the invariants that hold at every step.
func (w *simWorld) check() {
	active := 0
	for _, v := range w.routes.table {
		if v > 0 {
			active++
		}
	}
	if active == 0 {
		w.fail("every Region passive")
	}
	// The quorum view from the connected side: every observer that is neither down nor
	// isolated (an isolated Region's alarms live in its own CloudWatch, which no decider
	// outside it can read).
	obs := health.Observations{Unreadable: map[string]string{}}
	for k, a := range w.alarms {
		if k[0] == w.down || k[0] == w.isolated {
			obs.Unreadable[k[0]] = "down or isolated"
			continue
		}
		obs.Got = append(obs.Got, health.Observation{Observer: k[0], Target: k[1], State: a.state, Since: a.since})
	}
	v := health.Quorum(w.topo, obs)
	anyOK := false
	for _, m := range w.members {
		if v.Health[m].State == routing.OK {
			anyOK = true
		}
	}
	for _, m := range w.members {
		if anyOK && v.Health[m].State == routing.Alarm && w.routes.table[m] > 0 {
			w.badSteps[m]++
			if w.badSteps[m] > simDetectSteps {
				w.fail("traffic stays on %s, which a quorum sees failing (%s), for %d steps while a Region is OK", m, v.Health[m].Detail, w.badSteps[m])
			}
			continue
		}
		w.badSteps[m] = 0
	}
	w.counts["invariant checks"]++
}

// converge holds every Region healthy for longer than cooldown, lease and failback window
// together and checks that the routes settle on what the mode says.
func (w *simWorld) converge() {
	settle := w.now.Add(simCooldown + simLease + w.policy.FailbackWindow + 10*time.Minute)
	for w.now.Before(settle) {
		w.evolve(false)
		w.step(false)
		w.check()
	}
	var want []string
	if w.policy.Mode == routing.ActiveActive {
		want = slices.Clone(w.members)
	} else {
		want = w.members[:1]
	}
	var got []string
	for _, m := range w.members {
		if w.routes.table[m] > 0 {
			got = append(got, m)
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if w.policy.Failback && !slices.Equal(got, want) {
		w.fail("after steady health the routes are %v, the mode says %v", got, want)
	}
	before := maps2str(w.routes.table)
	w.evolve(false)
	w.step(false)
	if after := maps2str(w.routes.table); after != before {
		w.fail("still changing after steady health: %s -> %s", before, after)
	}
	w.counts["converged episodes"]++
}

// TestSimulation runs seeded worlds of chaos and steady episodes: 100,000 steps (1,000,000
// with MRAP_CHAOS_LONG=1; 10,000 under -short). MRAP_SIM_SEED=N replays one world.
func TestSimulation(t *testing.T) {
	steps := 100_000
	switch {
	case os.Getenv("MRAP_CHAOS_LONG") == "1":
		steps = 1_000_000
	case testing.Short():
		steps = 10_000
	}
	var seeds []uint64
	if s := os.Getenv("MRAP_SIM_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("MRAP_SIM_SEED=%q: %v", s, err)
		}
		seeds = []uint64{n}
	}
	const perWorld = 2_000
	total := map[string]int{}
	start := time.Now()
	done := 0
	for i := 0; done < steps; i++ {
		seed := uint64(i)*0x9e3779b97f4a7c15 + 1
		if seeds != nil {
			if i > 0 {
				break
			}
			seed = seeds[0]
		}
		w := newSimWorld(t, seed)
		for n := 0; n < perWorld && done < steps; n++ {
			w.evolve(true)
			w.step(true)
			w.check()
			done++
			if n%500 == 499 {
				w.converge()
			}
		}
		for k, v := range w.counts {
			total[k] += v
		}
		total["worlds"]++
	}
	el := time.Since(start)
	t.Logf("%d steps in %s (%.0f steps/s)", done, el.Round(time.Millisecond), float64(done)/el.Seconds())
	keys := make([]string, 0, len(total))
	for k := range total {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		t.Logf("  %-36s %d", k, total[k])
	}
	if total["submitted "+KindEvacuation] == 0 || total["fault outage"] == 0 || total["fault isolate"] == 0 {
		t.Errorf("the simulation exercised no evacuation or no fault: %v", total)
	}
}
