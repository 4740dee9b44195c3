package runtime

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/mrap-engine/mrap/shared/routing"
)

// observation is one observer's alarm about one target, as a decider reads it.
type observation struct {
	Observer, Target string
	State            routing.State
	Since            time.Time
}

// view is the health of every member as seen from one place.
type view struct {
	health     map[string]routing.RegionHealth
	matrix     []observation
	unreadable map[string]string // observer -> cause
}

// healthFrom reads every observer's alarms as a reader in Region `from` does on AWS
// (DescribeAlarms in each observer Region): an observer whose Region is out, or that `from`
// cannot reach, is unreadable. from == "" is the operator's view: every running Region.
func (rt *Runtime) healthFrom(from string) view {
	v := view{health: map[string]routing.RegionHealth{}, unreadable: map[string]string{}}
	for _, r := range rt.regions {
		o := r.observer
		if !rt.links.Running(o.region) {
			v.unreadable[o.region] = o.region + " is out"
			continue
		}
		if from != "" {
			if err := rt.links.Reach(from, o.region); err != nil {
				v.unreadable[o.region] = err.Error()
				continue
			}
		}
		for _, t := range rt.regions {
			if a, ok := o.alarm(t.name); ok {
				v.matrix = append(v.matrix, observation{Observer: o.region, Target: t.name, State: a.State, Since: a.Since})
			}
		}
	}
	v.health = quorum(rt.opts.Regions, v.matrix, v.unreadable)
	return v
}

// healthView is the operator's view (status, redrive).
func (rt *Runtime) healthView() view { return rt.healthFrom("") }

// quorum is the rule of docs/failover.md over the local observations: a member is ALARM
// when a majority of all its observers (every other Region) vote ALARM, OK when at least one
// votes OK and OK votes are not fewer than ALARM votes, else INSUFFICIENT_DATA.
// (Interim: replaced by health.Quorum once the engine's quorum lands.)
func quorum(regions []string, matrix []observation, unreadable map[string]string) map[string]routing.RegionHealth {
	out := map[string]routing.RegionHealth{}
	for _, t := range regions {
		n := len(regions) - 1
		q := n/2 + 1
		var alarms, oks []time.Time
		var detail []string
		for _, o := range regions {
			if o == t {
				continue
			}
			if cause, ok := unreadable[o]; ok {
				detail = append(detail, fmt.Sprintf("%s unreadable (%s)", o, cause))
				continue
			}
			i := slices.IndexFunc(matrix, func(ob observation) bool { return ob.Observer == o && ob.Target == t })
			if i < 0 {
				detail = append(detail, o+" no alarm")
				continue
			}
			ob := matrix[i]
			detail = append(detail, fmt.Sprintf("from %s %s", o, ob.State))
			switch ob.State {
			case routing.Alarm:
				alarms = append(alarms, ob.Since)
			case routing.OK:
				oks = append(oks, ob.Since)
			}
		}
		h := routing.RegionHealth{State: routing.InsufficientData, Detail: fmt.Sprintf("%d of %d observers ALARM, %d OK (quorum %d): %s", len(alarms), n, len(oks), q, strings.Join(detail, ", "))}
		switch {
		case len(alarms) >= q:
			sort.Slice(alarms, func(i, j int) bool { return alarms[i].Before(alarms[j]) })
			h.State, h.Since = routing.Alarm, alarms[q-1]
		case len(oks) > 0 && len(oks) >= len(alarms):
			h.State = routing.OK
			for _, s := range oks {
				if s.After(h.Since) {
					h.Since = s
				}
			}
		}
		out[t] = h
	}
	return out
}
