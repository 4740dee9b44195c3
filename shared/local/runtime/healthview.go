package runtime

import (
	"github.com/mrap-engine/mrap/shared/health"
)

// topology is the local deployment's: every member observes every other (no witnesses).
func (rt *Runtime) topology() health.Topology { return health.Topology{Members: rt.opts.Regions} }

// observe reads every observer's alarms as a reader in Region `from` does on AWS
// (DescribeAlarms in each observer Region): an observer whose Region is out, or that `from`
// cannot reach, is unreadable. from == "" is the operator's view: every running Region.
func (rt *Runtime) observe(from string) health.Observations {
	obs := health.Observations{Unreadable: map[string]string{}}
	for _, r := range rt.regions {
		o := r.observer
		if !rt.links.Running(o.region) {
			obs.Unreadable[o.region] = o.region + " is out"
			continue
		}
		if from != "" {
			if err := rt.links.Reach(from, o.region); err != nil {
				obs.Unreadable[o.region] = err.Error()
				continue
			}
		}
		for _, t := range rt.regions {
			if a, ok := o.alarm(t.name); ok {
				obs.Got = append(obs.Got, health.Observation{Observer: o.region, Target: t.name, State: a.State, Since: a.Since, Detail: a.Name})
			}
		}
	}
	return obs
}

// healthFrom is the quorum view of health from Region `from` (see observe).
func (rt *Runtime) healthFrom(from string) health.View {
	return health.Quorum(rt.topology(), rt.observe(from))
}

// healthView is the operator's view (status, redrive).
func (rt *Runtime) healthView() health.View { return rt.healthFrom("") }
