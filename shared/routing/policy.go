// Package routing is the failover policy of the engine: a pure function from the current
// routes, the health of every Region, the policy and the time to the routes the Multi-Region
// Access Point should have, with the reason in words. It imports nothing from AWS, so the
// failover function, the local runtime and the operator CLI all decide the same way.
package routing

import (
	"errors"
	"fmt"
	"time"
)

// State is the health of one Region as its alarms report it.
type State string

// The three alarm states, spelled as CloudWatch spells them.
const (
	OK               State = "OK"
	Alarm            State = "ALARM"
	InsufficientData State = "INSUFFICIENT_DATA"
)

// RegionHealth is the health of one Region: its worst alarm state and since when it holds.
type RegionHealth struct {
	State State
	// Since is when the Region entered State; the zero time means long ago.
	Since time.Time
	// Detail says where the state comes from (alarm names, an AWS Health issue), for the audit.
	Detail string
}

// Mode is how traffic is spread over healthy Regions.
type Mode string

// The routing modes.
const (
	// ActiveActive routes to every healthy Region.
	ActiveActive Mode = "active-active"
	// ActivePassive routes to the one healthiest Region by priority order.
	ActivePassive Mode = "active-passive"
)

// InsufficientDataPolicy says what INSUFFICIENT_DATA means.
type InsufficientDataPolicy string

// The INSUFFICIENT_DATA policies.
const (
	// Ignore takes no action on INSUFFICIENT_DATA: an active Region stays active, a passive
	// one is not chosen while a Region in OK is available.
	Ignore InsufficientDataPolicy = "ignore"
	// Unhealthy treats INSUFFICIENT_DATA like ALARM, except that it is preferred to ALARM.
	Unhealthy InsufficientDataPolicy = "unhealthy"
)

// Dial values of the routes API: only 0 and 100 are documented.
const (
	Passive = 0
	Active  = 100
)

// Policy is the operator's configuration of the failover engine.
type Policy struct {
	Mode Mode
	// Priority lists Regions best first. Active-passive requires it; active-active uses it to
	// break ties. Regions not listed rank after the listed ones, by name.
	Priority []string
	// MinActive is the least number of active Regions in active-active (0 means 1).
	MinActive int
	// Cooldown is the least time between two automatic changes.
	Cooldown time.Duration
	// Failback lets the engine return traffic to a Region that recovered, once it has been
	// healthy for FailbackWindow. Without it, only a failback command does.
	Failback       bool
	FailbackWindow time.Duration
	// InsufficientData is Ignore when empty.
	InsufficientData InsufficientDataPolicy
}

// Validate reports every problem of p at once.
func (p Policy) Validate() error {
	var errs []error
	switch p.Mode {
	case ActiveActive:
	case ActivePassive:
		if len(p.Priority) == 0 {
			errs = append(errs, errors.New("active-passive needs a priority order of Regions"))
		}
	default:
		errs = append(errs, fmt.Errorf("mode %q is not active-active or active-passive", p.Mode))
	}
	seen := map[string]bool{}
	for _, r := range p.Priority {
		if r == "" {
			errs = append(errs, errors.New("priority has an empty Region"))
		} else if seen[r] {
			errs = append(errs, fmt.Errorf("priority lists %s twice", r))
		}
		seen[r] = true
	}
	if p.MinActive < 0 {
		errs = append(errs, fmt.Errorf("min active %d is negative", p.MinActive))
	}
	if p.Cooldown < 0 {
		errs = append(errs, fmt.Errorf("cooldown %v is negative", p.Cooldown))
	}
	if p.FailbackWindow < 0 {
		errs = append(errs, fmt.Errorf("failback window %v is negative", p.FailbackWindow))
	}
	switch p.InsufficientData {
	case "", Ignore, Unhealthy:
	default:
		errs = append(errs, fmt.Errorf("insufficient-data policy %q is not ignore or unhealthy", p.InsufficientData))
	}
	return errors.Join(errs...)
}

func (p Policy) minActive() int {
	if p.Mode != ActiveActive || p.MinActive < 1 {
		return 1
	}
	return p.MinActive
}

// Action is what an operator's command asks for.
type Action string

// The command actions (docs/contracts.md, "Events the engine defines").
const (
	// Failover sends all traffic to one Region and keeps it there until a failback.
	Failover Action = "failover"
	// Failback clears every operator override and returns to what the policy says now,
	// without waiting for the failback window.
	Failback Action = "failback"
	// Drain takes one Region out of routing until a failback.
	Drain Action = "drain"
)

// Command is an operator's request. It goes through the same safety rules as automatic
// decisions, but not through the cooldown: a human decided.
type Command struct {
	Action      Action
	Region      string
	Reason      string
	RequestedBy string
}

// Overrides are the standing effects of earlier commands, which the caller persists
// between decisions (the routes alone cannot carry them).
type Overrides struct {
	// Pinned is the Region a failover command sent all traffic to.
	Pinned string `json:"pinned,omitempty"`
	// Drained are the Regions drain commands took out, sorted.
	Drained []string `json:"drained,omitempty"`
}

// IsZero reports whether no override is in force.
func (o Overrides) IsZero() bool { return o.Pinned == "" && len(o.Drained) == 0 }

// Input is everything a decision depends on. The same Input always gives the same Decision.
type Input struct {
	// Routes are the current traffic dials per Region (0 passive, 100 active).
	Routes map[string]int
	// Health per Region; a Region missing here counts as INSUFFICIENT_DATA.
	Health map[string]RegionHealth
	Policy Policy
	// LastChange is the time of the last routing change; zero when unknown or never.
	LastChange time.Time
	Now        time.Time
	// Command is the operator's request, nil for automatic decisions.
	Command   *Command
	Overrides Overrides
	// HoldDamped, when set, holds every change but an evacuation, with this reason (a
	// decider that is not the primary). The cooldown holds them too.
	HoldDamped string
}

// Decision is the answer of the policy.
type Decision struct {
	// Routes is the full routing table to have: equal to the input's when nothing changes.
	// Every dial is 0 or 100 and at least one is 100.
	Routes map[string]int
	// Changed says Routes differ from the input's and should be submitted.
	Changed bool
	// Reason says in words what was decided and why.
	Reason string
	// TotalOutage is raised when every Region is unhealthy: the best one is kept active.
	TotalOutage bool
	// Held is set when a damped change was wanted but the cooldown (or HoldDamped) holds it.
	Held bool
	// Evacuation is set when the change only moves traffic off unhealthy Regions onto
	// Regions in OK, as needed to keep a Region (and the minimum) active, or repairs a table
	// with every Region passive: a safety rule that the cooldown never holds.
	Evacuation bool
	// Refused is set when a command was refused by a safety rule; nothing changes.
	Refused bool
	// Overrides are the operator overrides to persist after this decision.
	Overrides Overrides
	// Err is set when the input is invalid; nothing is decided and Routes are the input's.
	Err error
}

// Active lists the Regions with dial 100 in d.Routes, sorted.
func (d Decision) Active() []string { return activeOf(d.Routes) }
