package health

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/mrap-engine/mrap/shared/routing"
)

// Topology names the Regions that observe: every member (which also is a target) and every
// witness (an observer with no bucket).
type Topology struct {
	Members   []string
	Witnesses []string
}

// Observers is members ∪ witnesses, sorted, each once.
func (t Topology) Observers() []string {
	out := slices.Concat(t.Members, t.Witnesses)
	slices.Sort(out)
	return slices.Compact(out)
}

// Validate reports an empty or malformed topology.
func (t Topology) Validate() error {
	var errs []error
	if len(t.Members) == 0 {
		errs = append(errs, errors.New("topology has no members"))
	}
	seen := map[string]bool{}
	for _, r := range slices.Concat(t.Members, t.Witnesses) {
		if r == "" {
			errs = append(errs, errors.New("topology has an empty Region"))
		} else if seen[r] {
			errs = append(errs, fmt.Errorf("topology lists %s twice", r))
		}
		seen[r] = true
	}
	return errors.Join(errs...)
}

// Observation is what one observer Region says of one target member: the state of the
// alarm {prefix}{Target}-from-{Observer}-availability in the observer's Region.
type Observation struct {
	Observer string
	Target   string
	State    routing.State
	// Since is when the alarm entered State.
	Since  time.Time
	Detail string
}

// Observations is one read of every observer: what was read, and the observers that could
// not be read with the cause.
type Observations struct {
	Got        []Observation
	Unreadable map[string]string // observer -> cause
}

// ObservationReader reads the observations of every observer of topo. A partial failure is
// recorded in Observations.Unreadable, not returned as an error.
type ObservationReader interface {
	Observe(ctx context.Context, topo Topology) (Observations, error)
}

// View is the quorum health of every member and the evidence it was made from.
type View struct {
	// Health per member, from Quorum.
	Health map[string]routing.RegionHealth
	// Matrix is every observation counted (observer x target), sorted.
	Matrix []Observation
	// Unreadable are the observers that could not be read, with the cause.
	Unreadable map[string]string
	// ObserversRead of Observers could be read.
	ObserversRead, Observers int
}

// HasQuorum reports whether a majority of all observers was read (⌊|O|/2⌋+1).
func (v View) HasQuorum() bool { return v.ObserversRead >= v.Observers/2+1 }

// Counted names the observers read and those not, for audit lines:
// "read us-east-1, us-west-2; unreadable eu-west-1 (timeout)".
func (v View) Counted() string {
	read := map[string]bool{}
	for _, o := range v.Matrix {
		read[o.Observer] = true
	}
	for o := range v.Unreadable {
		delete(read, o)
	}
	s := fmt.Sprintf("%d/%d observers read", v.ObserversRead, v.Observers)
	if len(read) > 0 {
		s += ": " + strings.Join(slices.Sorted(maps.Keys(read)), ", ")
	}
	if len(v.Unreadable) > 0 {
		var un []string
		for _, o := range slices.Sorted(maps.Keys(v.Unreadable)) {
			un = append(un, fmt.Sprintf("%s (%s)", o, v.Unreadable[o]))
		}
		s += "; unreadable " + strings.Join(un, ", ")
	}
	return s
}

// Quorum turns the observations into one health state per member t (docs/failover.md,
// "Evidence"). Let O_t be the observers other than t, n = |O_t| and q = ⌊n/2⌋+1; a vote is
// an observation in OK or ALARM of t by an observer of O_t that was read.
//   - ALARM when at least q observers vote ALARM (a majority of all of t's observers, not
//     of the readable ones), since the q-th earliest ALARM vote;
//   - OK when not ALARM, at least one observer votes OK and OK votes >= ALARM votes, since
//     the latest OK vote;
//   - INSUFFICIENT_DATA otherwise.
//
// A Region never observes itself. An observer with several observations of one target
// counts once, with its worst state.
func Quorum(topo Topology, obs Observations) View {
	observers := topo.Observers()
	isObserver := map[string]bool{}
	for _, o := range observers {
		isObserver[o] = true
	}
	unreadable := map[string]string{}
	for o, cause := range obs.Unreadable {
		if isObserver[o] {
			unreadable[o] = cause
		}
	}
	// One vote per (observer, target): the worst state, the earliest since among equals.
	type key struct{ o, t string }
	votes := map[key]Observation{}
	for _, ob := range obs.Got {
		if !isObserver[ob.Observer] || ob.Observer == ob.Target || !slices.Contains(topo.Members, ob.Target) {
			continue
		}
		if _, bad := unreadable[ob.Observer]; bad {
			continue
		}
		k := key{ob.Observer, ob.Target}
		cur, ok := votes[k]
		if !ok || rank(ob.State) > rank(cur.State) || (rank(ob.State) == rank(cur.State) && ob.Since.Before(cur.Since)) {
			votes[k] = ob
		}
	}
	v := View{Health: make(map[string]routing.RegionHealth, len(topo.Members)), Unreadable: unreadable, Observers: len(observers)}
	v.ObserversRead = len(observers) - len(unreadable)
	for _, ob := range votes {
		v.Matrix = append(v.Matrix, ob)
	}
	sort.Slice(v.Matrix, func(i, j int) bool {
		if v.Matrix[i].Target != v.Matrix[j].Target {
			return v.Matrix[i].Target < v.Matrix[j].Target
		}
		return v.Matrix[i].Observer < v.Matrix[j].Observer
	})
	for _, t := range topo.Members {
		var alarms, oks []time.Time
		var parts []string
		n := 0
		for _, o := range observers {
			if o == t {
				continue
			}
			n++
			if cause, bad := unreadable[o]; bad {
				parts = append(parts, fmt.Sprintf("%s unreadable (%s)", o, cause))
				continue
			}
			ob, ok := votes[key{o, t}]
			if !ok {
				parts = append(parts, o+" no alarm")
				continue
			}
			parts = append(parts, o+" "+string(ob.State))
			switch ob.State {
			case routing.Alarm:
				alarms = append(alarms, ob.Since)
			case routing.OK:
				oks = append(oks, ob.Since)
			}
		}
		q := n/2 + 1
		h := routing.RegionHealth{State: routing.InsufficientData}
		switch {
		case n > 0 && len(alarms) >= q:
			slices.SortFunc(alarms, func(a, b time.Time) int { return a.Compare(b) })
			h.State, h.Since = routing.Alarm, alarms[q-1]
		case len(oks) > 0 && len(oks) >= len(alarms):
			h.State = routing.OK
			for _, s := range oks {
				if s.After(h.Since) {
					h.Since = s
				}
			}
		}
		h.Detail = fmt.Sprintf("quorum %d of %d: %s", q, n, strings.Join(parts, ", "))
		if n == 0 {
			h.Detail = "no observer other than itself (add a witness Region)"
		}
		v.Health[t] = h
	}
	return v
}

func rank(s routing.State) int {
	switch s {
	case routing.Alarm:
		return 2
	case routing.OK:
		return 0
	}
	return 1
}

// QuorumReader reads every observer through an ObservationReader and applies Quorum: the
// failover engine's health reader.
type QuorumReader struct {
	reader ObservationReader
	topo   Topology
}

// NewQuorumReader returns a reader of the quorum health of topo.
func NewQuorumReader(r ObservationReader, topo Topology) (*QuorumReader, error) {
	if r == nil {
		return nil, errors.New("quorum reader: no observation reader")
	}
	if err := topo.Validate(); err != nil {
		return nil, fmt.Errorf("quorum reader: %w", err)
	}
	return &QuorumReader{reader: r, topo: topo}, nil
}

// Topology is the topology read.
func (q *QuorumReader) Topology() Topology { return q.topo }

// Read observes and returns the quorum view.
func (q *QuorumReader) Read(ctx context.Context) (View, error) {
	obs, err := q.reader.Observe(ctx, q.topo)
	if err != nil {
		return View{}, fmt.Errorf("observe: %w", err)
	}
	return Quorum(q.topo, obs), nil
}
