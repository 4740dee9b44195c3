package routing

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// tier ranks a Region for routing: lower is better.
type tier int

const (
	tierGood    tier = iota // OK, or INSUFFICIENT_DATA kept active under Ignore
	tierUnknown             // INSUFFICIENT_DATA otherwise
	tierBad                 // ALARM
)

// view is the per-decision picture of one Region.
type view struct {
	name      string
	rank      int // position in the priority order
	dial      int
	active    bool
	health    RegionHealth
	tier      tier
	unhealthy bool // counts against the Region: ALARM, or INSUFFICIENT_DATA under Unhealthy
	drained   bool
	stable    bool // healthy for at least the failback window
}

// Decide returns the routes the access point should have. It never returns routes with
// every Region passive, never routes to a Region in ALARM while a healthy one exists, and
// returns the same Decision for the same Input. Safety stands above the cooldown: an
// evacuation (traffic off unhealthy Regions onto Regions in OK) is never held; the cooldown
// and Input.HoldDamped hold only the other, damped, changes.
func Decide(in Input) Decision {
	if err := validate(in); err != nil {
		return Decision{Routes: cloneRoutes(in.Routes), Reason: "invalid input, nothing decided: " + err.Error(), Overrides: in.Overrides, Err: err}
	}
	ov := normalizeOverrides(in.Overrides, in.Routes)
	if in.Command != nil {
		return decideCommand(in, ov)
	}
	views := buildViews(in, ov)
	d := finish(in, views, desired(in, views, ov, false))
	if !d.Changed {
		return d
	}
	if len(activeOf(in.Routes)) == 0 {
		// Never all passive: repairing it is a safety rule, held by nothing.
		d.Evacuation = true
		return d
	}
	hold := holdReason(in)
	if ev, ok := evacuate(in, views, ov); ok {
		e := finish(in, views, ev)
		if maps.Equal(e.Routes, d.Routes) {
			d.Evacuation = true
			return d
		}
		if hold != "" {
			e.Evacuation = true
			e.Reason = "evacuation, above the " + hold + ": " + e.Reason + "; the rest is held: would have applied: " + d.Reason
			return e
		}
		return d
	}
	if hold != "" {
		return Decision{
			Routes:      cloneRoutes(in.Routes),
			Held:        true,
			TotalOutage: d.TotalOutage,
			Overrides:   d.Overrides,
			Reason:      "held by " + hold + ": would have applied: " + d.Reason,
		}
	}
	return d
}

// holdReason says why damped changes are held now ("" when they are not): the cooldown
// counted from the last change, or the caller's HoldDamped.
func holdReason(in Input) string {
	if inCooldown(in) {
		until := in.LastChange.Add(in.Policy.Cooldown)
		return fmt.Sprintf("cooldown until %s (last change %s, cooldown %s)", stamp(until), stamp(in.LastChange), in.Policy.Cooldown)
	}
	return in.HoldDamped
}

func inCooldown(in Input) bool {
	return !in.LastChange.IsZero() && in.Policy.Cooldown > 0 && in.Now.Sub(in.LastChange) < in.Policy.Cooldown
}

// evacuate is the safety step above the cooldown: the active Regions minus the unhealthy
// ones, filled up to the minimum (at least one) from Regions in OK by priority (undrained
// first). ok is false when no evacuation is needed (no active Region is unhealthy) or
// possible (no Region in OK would be left active).
func evacuate(in Input, views []view, ov Overrides) (plan, bool) {
	pl := plan{overrides: ov}
	var set, left []string
	for _, v := range views {
		switch {
		case v.active && v.unhealthy:
			left = append(left, fmt.Sprintf("%s (%s)", v.name, v.health.State))
			if v.name == ov.Pinned {
				pl.overrides.Pinned = ""
				pl.notes = append(pl.notes, fmt.Sprintf("failover pin on %s released: %s is %s", v.name, v.name, v.health.State))
			}
		case v.active:
			set = append(set, v.name)
		}
	}
	if len(left) == 0 {
		return plan{}, false
	}
	need := in.Policy.minActive()
	for _, drained := range []bool{false, true} {
		for _, v := range views {
			if len(set) >= need {
				break
			}
			if !v.active && v.health.State == OK && v.drained == drained && !slices.Contains(set, v.name) {
				set = append(set, v.name)
				note := fmt.Sprintf("%s (OK) activated to keep %d active", v.name, need)
				if drained {
					note += " (drain overridden: no other Region in OK)"
				}
				pl.notes = append(pl.notes, note)
			}
		}
	}
	if len(set) == 0 {
		return plan{}, false
	}
	pl.notes = append([]string{"leaving " + strings.Join(left, ", ")}, pl.notes...)
	if len(set) < need {
		pl.notes = append(pl.notes, fmt.Sprintf("only %d Regions can be active, below the minimum of %d", len(set), need))
	}
	pl.active = set
	return pl, true
}

// validate checks the input against the policy; messages name what to fix.
func validate(in Input) error {
	var errs []error
	if err := in.Policy.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("policy: %w", err))
	}
	if len(in.Routes) == 0 {
		errs = append(errs, errors.New("no current routes"))
	}
	for _, r := range sortedKeys(in.Routes) {
		if r == "" {
			errs = append(errs, errors.New("a route has an empty Region"))
		}
		if v := in.Routes[r]; v < 0 || v > 100 {
			errs = append(errs, fmt.Errorf("route %s has dial %d, want 0..100", r, v))
		}
	}
	if in.Policy.Mode == ActiveActive && in.Policy.MinActive > len(in.Routes) && len(in.Routes) > 0 {
		errs = append(errs, fmt.Errorf("min active %d exceeds the %d Regions of the access point", in.Policy.MinActive, len(in.Routes)))
	}
	for _, r := range sortedKeys(in.Health) {
		switch in.Health[r].State {
		case OK, Alarm, InsufficientData:
		default:
			errs = append(errs, fmt.Errorf("health of %s has state %q", r, in.Health[r].State))
		}
	}
	if c := in.Command; c != nil {
		switch c.Action {
		case Failover, Drain:
			if _, ok := in.Routes[c.Region]; !ok {
				errs = append(errs, fmt.Errorf("command %s: Region %q is not a member of the access point", c.Action, c.Region))
			}
		case Failback:
		default:
			errs = append(errs, fmt.Errorf("command action %q is not failover, failback or drain", c.Action))
		}
	}
	return errors.Join(errs...)
}

func buildViews(in Input, ov Overrides) []view {
	rank := map[string]int{}
	for i, r := range in.Policy.Priority {
		rank[r] = i
	}
	names := sortedKeys(in.Routes)
	views := make([]view, 0, len(names))
	for _, r := range names {
		h, ok := in.Health[r]
		if !ok {
			h = RegionHealth{State: InsufficientData, Detail: "no health data"}
		}
		v := view{name: r, dial: in.Routes[r], active: in.Routes[r] > 0, health: h}
		if i, ok := rank[r]; ok {
			v.rank = i
		} else {
			v.rank = len(in.Policy.Priority)
		}
		switch h.State {
		case OK:
			v.tier = tierGood
		case Alarm:
			v.tier, v.unhealthy = tierBad, true
		default:
			if in.Policy.InsufficientData == Unhealthy {
				v.tier, v.unhealthy = tierUnknown, true
			} else if v.active {
				v.tier = tierGood
			} else {
				v.tier = tierUnknown
			}
		}
		v.drained = slices.Contains(ov.Drained, r)
		v.stable = h.Since.IsZero() || in.Now.Sub(h.Since) >= in.Policy.FailbackWindow
		views = append(views, v)
	}
	// Priority order, then name: the order every choice below walks.
	sort.SliceStable(views, func(i, j int) bool {
		if views[i].rank != views[j].rank {
			return views[i].rank < views[j].rank
		}
		return views[i].name < views[j].name
	})
	return views
}

// plan is the set of Regions to make active and the notes explaining it.
type plan struct {
	active      []string // in priority order
	notes       []string
	totalOutage bool
	overrides   Overrides
}

// desired computes the active set the policy wants, in named steps a reader can check
// against the README: an operator's pin, then the mode (active-active or active-passive),
// then the minimum of active Regions, then the last resort when nothing healthy is left.
// forceFailback ignores the failback setting and window (an operator's failback command).
func desired(in Input, views []view, ov Overrides, forceFailback bool) plan {
	pl := plan{overrides: ov}
	set, pinned := pinnedStep(views, &pl)
	if !pinned {
		good := healthyUndrained(views)
		mayReturn := func(v view) bool { return forceFailback || (in.Policy.Failback && v.stable) }
		switch in.Policy.Mode {
		case ActiveActive:
			set = activeActiveStep(good, mayReturn, &pl)
		case ActivePassive:
			set = activePassiveStep(good, mayReturn, &pl)
		}
	}
	set = minimumStep(in.Policy, views, set, &pl)
	if len(set) > 0 {
		pl.active = set
		return pl
	}
	return lastResortStep(views, pl)
}

func healthyUndrained(views []view) []view {
	var good []view
	for _, v := range views {
		if v.tier == tierGood && !v.drained {
			good = append(good, v)
		}
	}
	return good
}

// pinnedStep keeps an operator's failover pin while the pinned Region is healthy and
// undrained, and releases it otherwise.
func pinnedStep(views []view, pl *plan) ([]string, bool) {
	if pl.overrides.Pinned == "" {
		return nil, false
	}
	pv, _ := find(views, pl.overrides.Pinned)
	switch {
	case pv.unhealthy:
		pl.notes = append(pl.notes, fmt.Sprintf("failover pin on %s released: %s is %s", pv.name, pv.name, pv.health.State))
		pl.overrides.Pinned = ""
	case pv.drained:
		pl.notes = append(pl.notes, fmt.Sprintf("failover pin on %s released: %s is drained", pv.name, pv.name))
		pl.overrides.Pinned = ""
	default:
		pl.notes = append(pl.notes, fmt.Sprintf("pinned to %s by an operator failover", pv.name))
		return []string{pv.name}, true
	}
	return nil, false
}

// activeActiveStep keeps every healthy active Region, returns healthy passive ones that may
// return (failback), and activates every healthy Region when none was active.
func activeActiveStep(good []view, mayReturn func(view) bool, pl *plan) []string {
	var set []string
	for _, v := range good {
		if v.active || mayReturn(v) {
			set = append(set, v.name)
		}
	}
	if len(set) == 0 && len(good) > 0 {
		for _, v := range good {
			set = append(set, v.name)
		}
		pl.notes = append(pl.notes, "no healthy Region was active: activating every healthy Region")
	}
	return set
}

// activePassiveStep keeps the healthy active Region (or fails back to a better one that may
// return), or fails over to the first healthy Region by priority.
func activePassiveStep(good []view, mayReturn func(view) bool, pl *plan) []string {
	if slices.ContainsFunc(good, func(v view) bool { return v.active }) {
		for _, v := range good {
			if v.active || mayReturn(v) {
				return []string{v.name}
			}
		}
	}
	if len(good) > 0 {
		// Failing over: the first healthy Region by priority, stable or not, so one change suffices.
		pl.notes = append(pl.notes, fmt.Sprintf("no healthy Region was active: failing over to %s, the first healthy by priority", good[0].name))
		return []string{good[0].name}
	}
	return nil
}

// minimumStep fills the set up to the minimum of active Regions (active-active) from
// healthy, then unknown Regions, never from one in ALARM.
func minimumStep(p Policy, views []view, set []string, pl *plan) []string {
	need := p.minActive()
	if len(set) == 0 || len(set) >= need {
		return set
	}
	for _, t := range []tier{tierGood, tierUnknown} {
		for _, v := range views {
			if len(set) >= need {
				break
			}
			if v.tier == t && !v.drained && !v.unhealthy && !slices.Contains(set, v.name) {
				set = append(set, v.name)
				pl.notes = append(pl.notes, fmt.Sprintf("%s kept active to meet the minimum of %d active Regions", v.name, need))
			}
		}
	}
	if len(set) < need {
		pl.notes = append(pl.notes, fmt.Sprintf("only %d Regions can be active, below the minimum of %d", len(set), need))
	}
	return set
}

// lastResortStep keeps the best Region active when nothing healthy and undrained is left.
// Best is a known-healthy drained Region, then an unknown one, then one in ALARM; among
// equals the active ones stay (no churn), else the first by priority.
func lastResortStep(views []view, pl plan) plan {
	best := func(v view) [2]int {
		d := 0
		if v.drained {
			d = 1
		}
		if v.tier == tierGood {
			return [2]int{0, d}
		}
		return [2]int{int(v.tier), d}
	}
	top := best(views[0])
	for _, v := range views[1:] {
		if b := best(v); b[0] < top[0] || (b[0] == top[0] && b[1] < top[1]) {
			top = b
		}
	}
	var set []string
	for _, v := range views {
		if v.active && best(v) == top {
			set = append(set, v.name)
		}
	}
	if len(set) == 0 {
		for _, v := range views {
			if best(v) == top {
				set = []string{v.name}
				break
			}
		}
	}
	pl.active = set
	pl.totalOutage = true
	for _, v := range views {
		if !v.unhealthy {
			pl.totalOutage = false
		}
	}
	switch {
	case pl.totalOutage:
		pl.notes = append(pl.notes, fmt.Sprintf("TOTAL OUTAGE: every Region is unhealthy; keeping the best active: %s", strings.Join(set, ", ")))
	case top[1] == 1:
		pl.notes = append(pl.notes, fmt.Sprintf("drain overridden: no other healthy Region, %s stays active", strings.Join(set, ", ")))
	default:
		pl.notes = append(pl.notes, fmt.Sprintf("no Region in OK: routing to %s, whose health is unknown, rather than to one in ALARM", strings.Join(set, ", ")))
	}
	return pl
}

// finish turns a plan into a Decision with the reason in words.
func finish(in Input, views []view, pl plan) Decision {
	routes := make(map[string]int, len(in.Routes))
	for r := range in.Routes {
		routes[r] = Passive
	}
	for _, r := range pl.active {
		routes[r] = Active
	}
	d := Decision{Routes: routes, TotalOutage: pl.totalOutage, Overrides: pl.overrides}
	var moves []string
	for _, v := range views {
		if v.dial != routes[v.name] {
			moves = append(moves, fmt.Sprintf("%s %d->%d", v.name, v.dial, routes[v.name]))
		}
	}
	d.Changed = len(moves) > 0
	var b strings.Builder
	b.WriteString(string(in.Policy.Mode))
	b.WriteString(": ")
	if d.Changed {
		b.WriteString("change ")
		b.WriteString(strings.Join(moves, ", "))
	} else {
		b.WriteString("no change")
	}
	b.WriteString("; active ")
	b.WriteString(strings.Join(activeOf(routes), ", "))
	if len(pl.notes) > 0 {
		b.WriteString("; ")
		b.WriteString(strings.Join(pl.notes, "; "))
	}
	b.WriteString("; health ")
	b.WriteString(healthSummary(in, views, routes))
	d.Reason = b.String()
	return d
}

func healthSummary(in Input, views []view, routes map[string]int) string {
	parts := make([]string, 0, len(views))
	for _, v := range views {
		s := fmt.Sprintf("%s %s", v.name, v.health.State)
		if !v.health.Since.IsZero() {
			s += " since " + stamp(v.health.Since)
		}
		if v.health.State != OK && v.health.Detail != "" {
			s += " [" + v.health.Detail + "]"
		}
		if v.drained {
			s += " (drained)"
		}
		if v.health.State == OK && routes[v.name] == Passive && in.Policy.Failback && !v.stable {
			s += fmt.Sprintf(" (failback after %s)", stamp(v.health.Since.Add(in.Policy.FailbackWindow)))
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func find(views []view, name string) (view, bool) {
	for _, v := range views {
		if v.name == name {
			return v, true
		}
	}
	return view{}, false
}

func normalizeOverrides(ov Overrides, routes map[string]int) Overrides {
	out := Overrides{}
	if _, ok := routes[ov.Pinned]; ok {
		out.Pinned = ov.Pinned
	}
	for _, r := range ov.Drained {
		if _, ok := routes[r]; ok && !slices.Contains(out.Drained, r) {
			out.Drained = append(out.Drained, r)
		}
	}
	slices.Sort(out.Drained)
	return out
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func activeOf(routes map[string]int) []string {
	var out []string
	for _, r := range sortedKeys(routes) {
		if routes[r] > 0 {
			out = append(out, r)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func cloneRoutes(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
