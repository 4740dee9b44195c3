package routing

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC)

const (
	use1 = "us-east-1"
	euw1 = "eu-west-1"
	apse = "ap-southeast-2"
)

func h(s State, ago time.Duration) RegionHealth { return RegionHealth{State: s, Since: t0.Add(-ago)} }

func aa() Policy {
	return Policy{Mode: ActiveActive, Priority: []string{use1, euw1, apse}, Cooldown: 5 * time.Minute, FailbackWindow: 15 * time.Minute}
}

func ap() Policy {
	return Policy{Mode: ActivePassive, Priority: []string{use1, euw1, apse}, Cooldown: 5 * time.Minute, FailbackWindow: 15 * time.Minute}
}

func with(p Policy, fn func(*Policy)) Policy { fn(&p); return p }

func TestDecide(t *testing.T) {
	allOK := map[string]RegionHealth{use1: h(OK, time.Hour), euw1: h(OK, time.Hour), apse: h(OK, time.Hour)}
	tests := []struct {
		name        string
		in          Input
		wantRoutes  map[string]int
		wantChanged bool
		wantOutage  bool
		wantHeld    bool
		wantRefused bool
		wantReason  string
		// wantEvacuation is checked for every case: false unless set.
		wantEvacuation bool
	}{
		{
			name:       "active-active with every Region healthy changes nothing",
			in:         Input{Routes: map[string]int{use1: 100, euw1: 100, apse: 100}, Health: allOK, Policy: aa()},
			wantRoutes: map[string]int{use1: 100, euw1: 100, apse: 100}, wantReason: "no change",
		},
		{
			name:        "active-active takes a Region in ALARM out",
			in:          Input{Routes: map[string]int{use1: 100, euw1: 100, apse: 100}, Health: map[string]RegionHealth{use1: h(OK, time.Hour), euw1: h(Alarm, time.Minute), apse: h(OK, time.Hour)}, Policy: aa()},
			wantRoutes:  map[string]int{use1: 100, euw1: 0, apse: 100},
			wantChanged: true, wantEvacuation: true, wantReason: "eu-west-1 100->0",
		},
		{
			name:       "every Region in ALARM keeps the current routes and raises total outage",
			in:         Input{Routes: map[string]int{use1: 100, euw1: 0, apse: 0}, Health: map[string]RegionHealth{use1: h(Alarm, time.Minute), euw1: h(Alarm, time.Minute), apse: h(Alarm, time.Minute)}, Policy: ap()},
			wantRoutes: map[string]int{use1: 100, euw1: 0, apse: 0},
			wantOutage: true, wantReason: "TOTAL OUTAGE",
		},
		{
			name:        "active-passive fails over to the next healthy Region by priority",
			in:          Input{Routes: map[string]int{use1: 100, euw1: 0, apse: 0}, Health: map[string]RegionHealth{use1: h(Alarm, time.Minute), euw1: h(OK, time.Hour), apse: h(OK, time.Hour)}, Policy: ap()},
			wantRoutes:  map[string]int{use1: 0, euw1: 100, apse: 0},
			wantChanged: true, wantEvacuation: true, wantReason: "us-east-1 100->0, eu-west-1 0->100",
		},
		{
			name:        "active-passive skips a Region in ALARM when failing over",
			in:          Input{Routes: map[string]int{use1: 100, euw1: 0, apse: 0}, Health: map[string]RegionHealth{use1: h(Alarm, time.Minute), euw1: h(Alarm, time.Hour), apse: h(OK, time.Hour)}, Policy: ap()},
			wantRoutes:  map[string]int{use1: 0, euw1: 0, apse: 100},
			wantChanged: true, wantEvacuation: true,
		},
		{
			name:        "failing over picks the first healthy Region by priority, even one that recovered recently",
			in:          Input{Routes: map[string]int{use1: 100, euw1: 0, apse: 0}, Health: map[string]RegionHealth{use1: h(Alarm, time.Minute), euw1: h(OK, 5*time.Minute), apse: h(OK, time.Hour)}, Policy: with(ap(), func(p *Policy) { p.Failback = true })},
			wantRoutes:  map[string]int{use1: 0, euw1: 100, apse: 0},
			wantChanged: true, wantEvacuation: true, wantReason: "failing over to eu-west-1, the first healthy by priority",
		},
		{
			name:       "without automatic failback a recovered primary stays passive",
			in:         Input{Routes: map[string]int{use1: 0, euw1: 100, apse: 0}, Health: allOK, Policy: ap()},
			wantRoutes: map[string]int{use1: 0, euw1: 100, apse: 0},
		},
		{
			name:       "failback waits for the stabilization window",
			in:         Input{Routes: map[string]int{use1: 0, euw1: 100, apse: 0}, Health: map[string]RegionHealth{use1: h(OK, 10*time.Minute), euw1: h(OK, time.Hour), apse: h(OK, time.Hour)}, Policy: with(ap(), func(p *Policy) { p.Failback = true })},
			wantRoutes: map[string]int{use1: 0, euw1: 100, apse: 0}, wantReason: "failback after 2026-11-25T17:05:00Z",
		},
		{
			name:        "failback returns to the primary once it is stable",
			in:          Input{Routes: map[string]int{use1: 0, euw1: 100, apse: 0}, Health: map[string]RegionHealth{use1: h(OK, 16*time.Minute), euw1: h(OK, time.Hour), apse: h(OK, time.Hour)}, Policy: with(ap(), func(p *Policy) { p.Failback = true })},
			wantRoutes:  map[string]int{use1: 100, euw1: 0, apse: 0},
			wantChanged: true,
		},
		{
			name:       "the cooldown holds a damped change (failback to a recovered Region)",
			in:         Input{Routes: map[string]int{use1: 0, euw1: 100, apse: 0}, Health: map[string]RegionHealth{use1: h(OK, time.Hour), euw1: h(OK, time.Hour), apse: h(OK, time.Hour)}, Policy: with(ap(), func(p *Policy) { p.Failback = true }), LastChange: t0.Add(-2 * time.Minute)},
			wantRoutes: map[string]int{use1: 0, euw1: 100, apse: 0},
			wantHeld:   true, wantReason: "held by cooldown until 2026-11-25T17:03:00Z",
		},
		{
			name:        "the cooldown never holds an evacuation (a Region in ALARM leaves for the ones in OK)",
			in:          Input{Routes: map[string]int{use1: 100, euw1: 100, apse: 100}, Health: map[string]RegionHealth{use1: h(OK, time.Hour), euw1: h(Alarm, time.Minute), apse: h(OK, time.Hour)}, Policy: aa(), LastChange: t0.Add(-2 * time.Minute)},
			wantRoutes:  map[string]int{use1: 100, euw1: 0, apse: 100},
			wantChanged: true, wantEvacuation: true, wantReason: "change eu-west-1 100->0",
		},
		{
			name:        "active-passive in cooldown: the active Region in ALARM fails over to the first in OK",
			in:          Input{Routes: map[string]int{use1: 100, euw1: 0, apse: 0}, Health: map[string]RegionHealth{use1: h(Alarm, time.Minute), euw1: h(OK, time.Hour), apse: h(OK, time.Hour)}, Policy: ap(), LastChange: t0.Add(-time.Minute)},
			wantRoutes:  map[string]int{use1: 0, euw1: 100, apse: 0},
			wantChanged: true, wantEvacuation: true,
		},
		{
			name:        "in cooldown only the evacuation applies; the failback it would bring is held",
			in:          Input{Routes: map[string]int{use1: 0, euw1: 100, apse: 100}, Health: map[string]RegionHealth{use1: h(OK, time.Hour), euw1: h(Alarm, time.Minute), apse: h(OK, time.Hour)}, Policy: with(aa(), func(p *Policy) { p.Failback = true }), LastChange: t0.Add(-time.Minute)},
			wantRoutes:  map[string]int{use1: 0, euw1: 0, apse: 100},
			wantChanged: true, wantEvacuation: true, wantReason: "evacuation, above the cooldown until",
		},
		{
			name:       "HoldDamped (not the primary decider) holds a failback",
			in:         Input{Routes: map[string]int{use1: 0, euw1: 100, apse: 0}, Health: map[string]RegionHealth{use1: h(OK, time.Hour), euw1: h(OK, time.Hour), apse: h(OK, time.Hour)}, Policy: with(ap(), func(p *Policy) { p.Failback = true }), HoldDamped: "not the primary decider"},
			wantRoutes: map[string]int{use1: 0, euw1: 100, apse: 0},
			wantHeld:   true, wantReason: "held by not the primary decider",
		},
		{
			name:        "HoldDamped never holds an evacuation",
			in:          Input{Routes: map[string]int{use1: 100, euw1: 0, apse: 0}, Health: map[string]RegionHealth{use1: h(Alarm, time.Minute), euw1: h(OK, time.Hour), apse: h(OK, time.Hour)}, Policy: ap(), HoldDamped: "not the primary decider"},
			wantRoutes:  map[string]int{use1: 0, euw1: 100, apse: 0},
			wantChanged: true, wantEvacuation: true,
		},
		{
			name:       "no evacuation without a Region in OK: leaving ALARM for unknown health is damped",
			in:         Input{Routes: map[string]int{use1: 100, euw1: 0}, Health: map[string]RegionHealth{use1: h(Alarm, time.Minute), euw1: h(InsufficientData, time.Hour)}, Policy: ap(), LastChange: t0.Add(-time.Minute)},
			wantRoutes: map[string]int{use1: 100, euw1: 0},
			wantHeld:   true,
		},
		{
			name:        "the cooldown ends",
			in:          Input{Routes: map[string]int{use1: 100, euw1: 100, apse: 100}, Health: map[string]RegionHealth{use1: h(OK, time.Hour), euw1: h(Alarm, time.Minute), apse: h(OK, time.Hour)}, Policy: aa(), LastChange: t0.Add(-5 * time.Minute)},
			wantRoutes:  map[string]int{use1: 100, euw1: 0, apse: 100},
			wantChanged: true, wantEvacuation: true,
		},
		{
			name:       "INSUFFICIENT_DATA is ignored by default: an active Region stays active",
			in:         Input{Routes: map[string]int{use1: 100, euw1: 100, apse: 100}, Health: map[string]RegionHealth{use1: h(OK, time.Hour), euw1: h(InsufficientData, time.Minute), apse: h(OK, time.Hour)}, Policy: aa()},
			wantRoutes: map[string]int{use1: 100, euw1: 100, apse: 100},
		},
		{
			name:        "INSUFFICIENT_DATA counts as unhealthy when configured",
			in:          Input{Routes: map[string]int{use1: 100, euw1: 100, apse: 100}, Health: map[string]RegionHealth{use1: h(OK, time.Hour), euw1: h(InsufficientData, time.Minute), apse: h(OK, time.Hour)}, Policy: with(aa(), func(p *Policy) { p.InsufficientData = Unhealthy })},
			wantRoutes:  map[string]int{use1: 100, euw1: 0, apse: 100},
			wantChanged: true, wantEvacuation: true,
		},
		{
			name:       "a Region without health data counts as INSUFFICIENT_DATA",
			in:         Input{Routes: map[string]int{use1: 100, euw1: 100}, Health: map[string]RegionHealth{use1: h(OK, time.Hour)}, Policy: aa()},
			wantRoutes: map[string]int{use1: 100, euw1: 100}, wantReason: "eu-west-1 INSUFFICIENT_DATA",
		},
		{
			name:        "the minimum of active Regions keeps an unknown Region but never one in ALARM",
			in:          Input{Routes: map[string]int{use1: 100, euw1: 0, apse: 100}, Health: map[string]RegionHealth{use1: h(OK, time.Hour), euw1: h(InsufficientData, time.Hour), apse: h(Alarm, time.Minute)}, Policy: with(aa(), func(p *Policy) { p.MinActive = 2 })},
			wantRoutes:  map[string]int{use1: 100, euw1: 100, apse: 0},
			wantChanged: true, wantReason: "eu-west-1 kept active to meet the minimum of 2",
		},
		{
			name:        "a Region in ALARM is left for one whose health is unknown",
			in:          Input{Routes: map[string]int{use1: 100, euw1: 0}, Health: map[string]RegionHealth{use1: h(Alarm, time.Minute), euw1: h(InsufficientData, time.Hour)}, Policy: ap()},
			wantRoutes:  map[string]int{use1: 0, euw1: 100},
			wantChanged: true, wantReason: "whose health is unknown",
		},
		{
			name:        "routes with every Region passive are repaired even in cooldown",
			in:          Input{Routes: map[string]int{use1: 0, euw1: 0}, Health: map[string]RegionHealth{use1: h(OK, time.Hour), euw1: h(OK, time.Hour)}, Policy: ap(), LastChange: t0},
			wantRoutes:  map[string]int{use1: 100, euw1: 0},
			wantChanged: true, wantEvacuation: true,
		},
		{
			name:        "a failover command pins traffic to one Region, ignoring the cooldown",
			in:          Input{Routes: map[string]int{use1: 100, euw1: 100, apse: 100}, Health: allOK, Policy: aa(), LastChange: t0.Add(-time.Minute), Command: &Command{Action: Failover, Region: euw1, RequestedBy: "alice", Reason: "INC-1"}},
			wantRoutes:  map[string]int{use1: 0, euw1: 100, apse: 0},
			wantChanged: true, wantReason: "command failover eu-west-1 by alice (INC-1)",
		},
		{
			name:        "a failover command to a Region in ALARM is refused",
			in:          Input{Routes: map[string]int{use1: 100, euw1: 0}, Health: map[string]RegionHealth{use1: h(OK, time.Hour), euw1: h(Alarm, time.Minute)}, Policy: ap(), Command: &Command{Action: Failover, Region: euw1}},
			wantRoutes:  map[string]int{use1: 100, euw1: 0},
			wantRefused: true, wantReason: "eu-west-1 is ALARM",
		},
		{
			name:        "a failover command conflicting with the minimum of active Regions is refused",
			in:          Input{Routes: map[string]int{use1: 100, euw1: 100}, Health: map[string]RegionHealth{use1: h(OK, time.Hour), euw1: h(OK, time.Hour)}, Policy: with(aa(), func(p *Policy) { p.Priority = nil; p.MinActive = 2 }), Command: &Command{Action: Failover, Region: euw1}},
			wantRoutes:  map[string]int{use1: 100, euw1: 100},
			wantRefused: true, wantReason: "minimum of 2",
		},
		{
			name:        "a command that must be refused on a table with no active Region is set aside for the automatic decision",
			in:          Input{Routes: map[string]int{use1: 0, euw1: 0}, Health: map[string]RegionHealth{use1: h(OK, time.Hour), euw1: h(OK, time.Hour)}, Policy: with(aa(), func(p *Policy) { p.Priority = nil; p.MinActive = 2 }), Command: &Command{Action: Failover, Region: euw1}},
			wantRoutes:  map[string]int{use1: 100, euw1: 100},
			wantChanged: true, wantEvacuation: true, wantReason: "set aside (failover to one Region conflicts with the minimum of 2 active Regions); no Region was active",
		},
		{
			name:        "draining the last healthy Region is refused",
			in:          Input{Routes: map[string]int{use1: 100, euw1: 0}, Health: map[string]RegionHealth{use1: h(OK, time.Hour), euw1: h(Alarm, time.Minute)}, Policy: ap(), Command: &Command{Action: Drain, Region: use1}},
			wantRoutes:  map[string]int{use1: 100, euw1: 0},
			wantRefused: true, wantReason: "would leave no healthy Region active",
		},
		{
			name:        "draining a healthy Region with others healthy moves traffic",
			in:          Input{Routes: map[string]int{use1: 100, euw1: 0, apse: 0}, Health: allOK, Policy: ap(), Command: &Command{Action: Drain, Region: use1}},
			wantRoutes:  map[string]int{use1: 0, euw1: 100, apse: 0},
			wantChanged: true,
		},
		{
			name:        "failback returns to the policy at once, without the window",
			in:          Input{Routes: map[string]int{use1: 0, euw1: 100, apse: 0}, Health: map[string]RegionHealth{use1: h(OK, time.Minute), euw1: h(OK, time.Hour), apse: h(OK, time.Hour)}, Policy: ap(), Overrides: Overrides{Drained: []string{use1}}, Command: &Command{Action: Failback}},
			wantRoutes:  map[string]int{use1: 100, euw1: 0, apse: 0},
			wantChanged: true,
		},
		{
			name:       "a drained Region stays out while others are healthy",
			in:         Input{Routes: map[string]int{use1: 0, euw1: 100, apse: 0}, Health: allOK, Policy: with(ap(), func(p *Policy) { p.Failback = true }), Overrides: Overrides{Drained: []string{use1}}},
			wantRoutes: map[string]int{use1: 0, euw1: 100, apse: 0},
		},
		{
			name:        "a drain is overridden when the drained Region is the only healthy one",
			in:          Input{Routes: map[string]int{use1: 0, euw1: 100}, Health: map[string]RegionHealth{use1: h(OK, time.Hour), euw1: h(Alarm, time.Minute)}, Policy: ap(), Overrides: Overrides{Drained: []string{use1}}},
			wantRoutes:  map[string]int{use1: 100, euw1: 0},
			wantChanged: true, wantEvacuation: true, wantReason: "drain overridden",
		},
		{
			name:        "a pin is released when its Region goes into ALARM",
			in:          Input{Routes: map[string]int{use1: 0, euw1: 100, apse: 0}, Health: map[string]RegionHealth{use1: h(OK, time.Hour), euw1: h(Alarm, time.Minute), apse: h(OK, time.Hour)}, Policy: aa(), Overrides: Overrides{Pinned: euw1}},
			wantRoutes:  map[string]int{use1: 100, euw1: 0, apse: 100},
			wantChanged: true, wantReason: "failover pin on eu-west-1 released",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.in.Now.IsZero() {
				tt.in.Now = t0
			}
			got := Decide(tt.in)
			if got.Err != nil {
				t.Fatalf("Decide() error: %v", got.Err)
			}
			if !reflect.DeepEqual(got.Routes, tt.wantRoutes) {
				t.Errorf("Routes = %v, want %v\nreason: %s", got.Routes, tt.wantRoutes, got.Reason)
			}
			if got.Changed != tt.wantChanged || got.TotalOutage != tt.wantOutage || got.Held != tt.wantHeld || got.Refused != tt.wantRefused {
				t.Errorf("Changed, TotalOutage, Held, Refused = %v, %v, %v, %v; want %v, %v, %v, %v\nreason: %s",
					got.Changed, got.TotalOutage, got.Held, got.Refused, tt.wantChanged, tt.wantOutage, tt.wantHeld, tt.wantRefused, got.Reason)
			}
			if !strings.Contains(got.Reason, tt.wantReason) {
				t.Errorf("Reason = %q, want it to contain %q", got.Reason, tt.wantReason)
			}
			if got.Evacuation != tt.wantEvacuation {
				t.Errorf("Evacuation = %v, want %v\nreason: %s", got.Evacuation, tt.wantEvacuation, got.Reason)
			}
			if again := Decide(tt.in); !reflect.DeepEqual(again, got) {
				t.Errorf("same input, different answer:\n%+v\n%+v", got, again)
			}
		})
	}
}

func TestDecidePinSurvivesAutomaticDecisions(t *testing.T) {
	health := map[string]RegionHealth{use1: h(OK, time.Hour), euw1: h(OK, time.Hour), apse: h(OK, time.Hour)}
	p := with(aa(), func(p *Policy) { p.Failback = true })
	first := Decide(Input{Routes: map[string]int{use1: 100, euw1: 100, apse: 100}, Health: health, Policy: p, Now: t0, Command: &Command{Action: Failover, Region: apse}})
	if first.Overrides.Pinned != apse || !first.Changed {
		t.Fatalf("failover: %+v", first)
	}
	later := Decide(Input{Routes: first.Routes, Health: health, Policy: p, Now: t0.Add(time.Hour), LastChange: t0, Overrides: first.Overrides})
	if later.Changed {
		t.Errorf("an automatic decision undid the operator's failover: %s", later.Reason)
	}
	back := Decide(Input{Routes: later.Routes, Health: health, Policy: p, Now: t0.Add(time.Hour), LastChange: t0, Overrides: later.Overrides, Command: &Command{Action: Failback}})
	if want := map[string]int{use1: 100, euw1: 100, apse: 100}; !reflect.DeepEqual(back.Routes, want) || !back.Overrides.IsZero() {
		t.Errorf("failback: routes %v overrides %+v, want %v and none", back.Routes, back.Overrides, want)
	}
}

func TestDecideRejectsInvalidInput(t *testing.T) {
	ok := map[string]int{use1: 100, euw1: 0}
	tests := []struct {
		name    string
		in      Input
		wantErr string
	}{
		{"unknown mode", Input{Routes: ok, Policy: Policy{Mode: "round-robin"}}, `mode "round-robin"`},
		{"active-passive without priority", Input{Routes: ok, Policy: Policy{Mode: ActivePassive}}, "needs a priority order"},
		{"duplicate priority", Input{Routes: ok, Policy: Policy{Mode: ActivePassive, Priority: []string{use1, use1}}}, "twice"},
		{"no routes", Input{Policy: aa()}, "no current routes"},
		{"dial out of range", Input{Routes: map[string]int{use1: 150}, Policy: Policy{Mode: ActiveActive}}, "dial 150"},
		{"min active above members", Input{Routes: ok, Policy: Policy{Mode: ActiveActive, MinActive: 3}}, "min active 3 exceeds"},
		{"bad insufficient-data policy", Input{Routes: ok, Policy: Policy{Mode: ActiveActive, InsufficientData: "panic"}}, `"panic"`},
		{"unknown health state", Input{Routes: ok, Policy: Policy{Mode: ActiveActive}, Health: map[string]RegionHealth{use1: {State: "GREEN"}}}, `"GREEN"`},
		{"command to a stranger", Input{Routes: ok, Policy: Policy{Mode: ActiveActive}, Command: &Command{Action: Failover, Region: "sa-east-1"}}, `"sa-east-1" is not a member`},
		{"unknown command", Input{Routes: ok, Policy: Policy{Mode: ActiveActive}, Command: &Command{Action: "reboot"}}, `"reboot"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Decide(tt.in)
			if got.Err == nil || !strings.Contains(got.Err.Error(), tt.wantErr) {
				t.Fatalf("Err = %v, want it to mention %q", got.Err, tt.wantErr)
			}
			if got.Changed || !reflect.DeepEqual(got.Routes, cloneRoutes(tt.in.Routes)) {
				t.Errorf("invalid input changed routes: %+v", got)
			}
		})
	}
}
