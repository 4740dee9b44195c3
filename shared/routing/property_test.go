package routing

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var seedFlag = flag.Uint64("routing.seed", 0, "replay one property-test sequence by its seed")

var longFlag = flag.Bool("routing.long", false, "long mode: ten times the worlds (over 1,000,000 decisions); also MRAP_CHAOS_LONG=1")

// longMode reports whether the property tests run their long mode (make chaos).
func longMode() bool { return *longFlag || os.Getenv("MRAP_CHAOS_LONG") == "1" }

var allRegions = []string{"us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2", "ap-northeast-1"}

// world is one random scenario: members, a policy, and the engine's persisted state.
type world struct {
	rng        *rand.Rand
	policy     Policy
	routes     map[string]int
	health     map[string]RegionHealth
	overrides  Overrides
	lastChange time.Time
	now        time.Time
	trace      []string
}

func newWorld(seed uint64) *world {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	n := 2 + rng.IntN(len(allRegions)-1)
	members := slices.Clone(allRegions)
	rng.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
	members = members[:n]
	w := &world{rng: rng, routes: map[string]int{}, health: map[string]RegionHealth{}, now: t0}
	w.policy = Policy{
		Mode:           []Mode{ActiveActive, ActivePassive}[rng.IntN(2)],
		Priority:       slices.Clone(members[:1+rng.IntN(n)]),
		Cooldown:       time.Duration(rng.IntN(11)) * time.Minute,
		Failback:       rng.IntN(2) == 0,
		FailbackWindow: time.Duration(rng.IntN(21)) * time.Minute,
	}
	if rng.IntN(2) == 0 {
		w.policy.InsufficientData = Unhealthy
	}
	if w.policy.Mode == ActiveActive {
		w.policy.MinActive = rng.IntN(n + 1)
	}
	for _, r := range members {
		w.routes[r] = []int{Passive, Active}[rng.IntN(2)]
		w.health[r] = RegionHealth{State: w.randomState(), Since: t0.Add(-time.Duration(rng.IntN(60)) * time.Minute)}
	}
	if rng.IntN(50) != 0 { // rarely start from the impossible all-passive table
		w.routes[members[0]] = Active
	}
	return w
}

func (w *world) randomState() State {
	switch x := w.rng.IntN(10); {
	case x < 6:
		return OK
	case x < 9:
		return Alarm
	default:
		return InsufficientData
	}
}

func (w *world) members() []string { return sortedKeys(w.routes) }

func (w *world) randomCommand() *Command {
	m := w.members()
	switch w.rng.IntN(3) {
	case 0:
		return &Command{Action: Failover, Region: m[w.rng.IntN(len(m))]}
	case 1:
		return &Command{Action: Drain, Region: m[w.rng.IntN(len(m))]}
	default:
		return &Command{Action: Failback}
	}
}

// step advances time, maybe flips one alarm, maybe sends a command, decides and applies.
func (w *world) step(events bool) (Input, Decision) {
	w.now = w.now.Add(time.Duration(w.rng.IntN(181)) * time.Second)
	var cmd *Command
	if events {
		if w.rng.IntN(3) == 0 {
			m := w.members()
			r := m[w.rng.IntN(len(m))]
			if s := w.randomState(); s != w.health[r].State {
				w.health[r] = RegionHealth{State: s, Since: w.now}
			}
		}
		if w.rng.IntN(40) == 0 {
			cmd = w.randomCommand()
		}
	}
	in := Input{Routes: cloneRoutes(w.routes), Health: cloneHealth(w.health), Policy: w.policy, LastChange: w.lastChange, Now: w.now, Command: cmd, Overrides: w.overrides}
	d := Decide(in)
	if d.Changed {
		w.lastChange = w.now
		w.routes = cloneRoutes(d.Routes)
	}
	w.overrides = d.Overrides
	w.trace = append(w.trace, fmt.Sprintf("%s cmd=%v health=%v -> %v: %s", w.now.Format("15:04:05"), cmd, states(w.health), d.Routes, d.Reason))
	if len(w.trace) > 8 {
		w.trace = w.trace[1:]
	}
	return in, d
}

func cloneHealth(m map[string]RegionHealth) map[string]RegionHealth {
	out := make(map[string]RegionHealth, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func states(m map[string]RegionHealth) map[string]State {
	out := map[string]State{}
	for k, v := range m {
		out[k] = v.State
	}
	return out
}

// checkStep asserts the safety properties of one decision.
func checkStep(in Input, d Decision) error {
	if d.Err != nil {
		return fmt.Errorf("unexpected error: %v", d.Err)
	}
	active := 0
	for r, v := range d.Routes {
		if v != Passive && v != Active {
			return fmt.Errorf("route %s has dial %d", r, v)
		}
		if v == Active {
			active++
		}
	}
	if active == 0 {
		return fmt.Errorf("every Region passive: %v", d.Routes)
	}
	// Safety above the cooldown: inside it, only an evacuation changes the routes, and an
	// evacuation only takes traffic off unhealthy Regions and adds it only to Regions in OK.
	if d.Changed && in.Command == nil && !in.LastChange.IsZero() && in.Now.Sub(in.LastChange) < in.Policy.Cooldown && len(activeOf(in.Routes)) > 0 && !d.Evacuation {
		return fmt.Errorf("damped change only %v after the last one, cooldown %v", in.Now.Sub(in.LastChange), in.Policy.Cooldown)
	}
	if d.Evacuation && len(activeOf(in.Routes)) > 0 {
		if in.Command != nil {
			return fmt.Errorf("a command decision is marked an evacuation")
		}
		for r, v := range d.Routes {
			was := in.Routes[r]
			s := in.Health[r].State
			unhealthy := s == Alarm || (s != OK && in.Policy.InsufficientData == Unhealthy)
			if was > 0 && v == Passive && !unhealthy {
				return fmt.Errorf("evacuation takes traffic off %s, which is %s", r, s)
			}
			if was == Passive && v > 0 && s != OK {
				return fmt.Errorf("evacuation adds traffic to %s, which is %s", r, s)
			}
		}
	}
	anyOK, allUnhealthy := false, true
	for r := range in.Routes {
		s := in.Health[r].State
		if s == OK {
			anyOK = true
		}
		if s == OK || (s == InsufficientData && in.Policy.InsufficientData != Unhealthy) {
			allUnhealthy = false
		}
	}
	if !d.Refused && anyOK {
		for r, v := range d.Routes {
			if v == Active && in.Health[r].State == Alarm {
				return fmt.Errorf("routes to %s in ALARM while a Region is OK", r)
			}
		}
	}
	if d.TotalOutage != allUnhealthy && !d.Refused {
		return fmt.Errorf("TotalOutage = %v, every Region unhealthy = %v", d.TotalOutage, allUnhealthy)
	}
	if d.Refused && (d.Changed || !reflect.DeepEqual(d.Routes, in.Routes)) {
		return fmt.Errorf("a refused command changed routes")
	}
	if !d.Changed && !reflect.DeepEqual(d.Routes, in.Routes) {
		return fmt.Errorf("no change reported but routes differ")
	}
	for _, r := range append(slices.Clone(d.Overrides.Drained), d.Overrides.Pinned) {
		if _, ok := in.Routes[r]; r != "" && !ok {
			return fmt.Errorf("override names a stranger %q", r)
		}
	}
	return nil
}

func seeds(t *testing.T, n int) []uint64 {
	if *seedFlag != 0 {
		return []uint64{*seedFlag}
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(i)*2654435761 + 1
	}
	_ = t
	return out
}

// TestPropertySafetyOverRandomAlarmSequences runs 2,000 random worlds of 60 steps each
// (120,000 decisions; 20,000 worlds and 1,200,000 decisions in the long mode): never all
// passive, inside the cooldown no change but an evacuation (which only leaves unhealthy
// Regions for ones in OK), never routing to ALARM while a Region is OK (the cooldown holds
// no exception), total outage exactly when every Region is unhealthy, and the same input always gives
// the same answer.
func TestPropertySafetyOverRandomAlarmSequences(t *testing.T) {
	worlds, steps, want := 2000, 60, 100_000
	if longMode() {
		worlds, want = 20_000, 1_000_000
	}
	total := 0
	for _, seed := range seeds(t, worlds) {
		w := newWorld(seed)
		for i := 0; i < steps; i++ {
			in, d := w.step(true)
			total++
			if err := checkStep(in, d); err != nil {
				t.Fatalf("seed %d step %d: %v\npolicy %+v\nrecent:\n%s\nreplay: go test ./shared/routing -run Property -routing.seed=%d",
					seed, i, err, w.policy, strings.Join(w.trace, "\n"), seed)
			}
			if i%7 == 0 {
				if again := Decide(in); !reflect.DeepEqual(again, d) {
					t.Fatalf("seed %d step %d: same input, different decision", seed, i)
				}
			}
		}
	}
	if *seedFlag == 0 && total < want {
		t.Fatalf("ran %d steps, want at least %d", total, want)
	}
	t.Logf("%d decisions checked", total)
}

// TestPropertyConvergesUnderSteadyHealth holds health steady after a random history and
// checks the routes settle on what the mode says (with failback) or stop changing (without).
// 1,000 worlds; 10,000 in the long mode.
func TestPropertyConvergesUnderSteadyHealth(t *testing.T) {
	worlds, decisions := 1000, 0
	if longMode() {
		worlds = 10_000
	}
	defer func() { t.Logf("%d worlds, %d decisions checked", worlds, decisions) }()
	for _, seed := range seeds(t, worlds) {
		w := newWorld(seed)
		for i := 0; i < 20; i++ {
			w.step(true)
		}
		w.overrides = Overrides{}
		// Steady health from here: settle for longer than cooldown plus failback window.
		settle := w.now.Add(w.policy.Cooldown + w.policy.FailbackWindow + time.Hour)
		for w.now.Before(settle) {
			in, d := w.step(false)
			decisions++
			if err := checkStep(in, d); err != nil {
				t.Fatalf("seed %d settling: %v\n%s", seed, err, strings.Join(w.trace, "\n"))
			}
		}
		in, d := w.step(false)
		if d.Changed {
			t.Fatalf("seed %d: still changing after settling: %s\n%s", seed, d.Reason, strings.Join(w.trace, "\n"))
		}
		if want, ok := target(in); ok && w.policy.Failback {
			if got := activeOf(w.routes); !slices.Equal(got, want) {
				t.Fatalf("seed %d: converged on %v, mode says %v\npolicy %+v\n%s", seed, got, want, w.policy, strings.Join(w.trace, "\n"))
			}
		}
	}
}

// target is the active set the mode names for steady health without INSUFFICIENT_DATA
// ambiguity: every OK Region (active-active) or the first OK one by priority
// (active-passive). ok is false when the mode leaves the choice to history.
func target(in Input) ([]string, bool) {
	var okRegions []string
	for _, r := range sortedKeys(in.Routes) {
		switch in.Health[r].State {
		case OK:
			okRegions = append(okRegions, r)
		case InsufficientData:
			if in.Policy.InsufficientData != Unhealthy {
				return nil, false
			}
		}
	}
	if len(okRegions) == 0 {
		return nil, false
	}
	if in.Policy.Mode == ActiveActive {
		if in.Policy.MinActive > len(okRegions) {
			return nil, false
		}
		return okRegions, true
	}
	for _, r := range in.Policy.Priority {
		if slices.Contains(okRegions, r) {
			return []string{r}, true
		}
	}
	return okRegions[:1], true // unlisted Regions rank by name
}
