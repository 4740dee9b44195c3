package routing

import (
	"fmt"
	"slices"
)

// decideCommand applies an operator's command under the safety rules. It is not held by
// the cooldown.
func decideCommand(in Input, ov Overrides) Decision {
	c := *in.Command
	views := buildViews(in, ov)
	refuse := func(format string, args ...any) Decision {
		if len(activeOf(in.Routes)) == 0 {
			// Refusing must not keep a table with no active Region: the command is set aside and the
			// automatic decision applies.
			auto := in
			auto.Command = nil
			d := Decide(auto)
			d.Reason = commandLabel(c) + " set aside (" + fmt.Sprintf(format, args...) + "); no Region was active: " + d.Reason
			return d
		}
		return Decision{
			Routes:    cloneRoutes(in.Routes),
			Refused:   true,
			Overrides: ov,
			Reason:    commandLabel(c) + " refused, nothing changed: " + fmt.Sprintf(format, args...),
		}
	}
	var next Overrides
	force := false
	switch c.Action {
	case Failover:
		x, _ := find(views, c.Region)
		if x.unhealthy {
			return refuse("%s is %s (%s)", x.name, x.health.State, orUnknown(x.health.Detail))
		}
		if need := in.Policy.minActive(); need > 1 {
			return refuse("failover to one Region conflicts with the minimum of %d active Regions", need)
		}
		next = Overrides{Pinned: c.Region}
		for _, r := range ov.Drained {
			if r != c.Region {
				next.Drained = append(next.Drained, r)
			}
		}
	case Drain:
		if ov.Pinned == c.Region {
			return refuse("%s is pinned by an earlier failover; fail back or fail over elsewhere first", c.Region)
		}
		next = Overrides{Pinned: ov.Pinned, Drained: append(slices.Clone(ov.Drained), c.Region)}
		next = normalizeOverrides(next, in.Routes)
	case Failback:
		next = Overrides{}
		force = true
	}
	views = buildViews(in, next)
	pl := desired(in, views, next, force)
	if c.Action == Drain {
		if slices.Contains(pl.active, c.Region) {
			return refuse("draining %s would leave no healthy Region active", c.Region)
		}
		if need := in.Policy.minActive(); len(pl.active) < need {
			return refuse("draining %s would leave %d active Regions, below the minimum of %d", c.Region, len(pl.active), need)
		}
	}
	d := finish(in, views, pl)
	d.Reason = commandLabel(c) + ": " + d.Reason
	return d
}

func commandLabel(c Command) string {
	s := "command " + string(c.Action)
	if c.Region != "" {
		s += " " + c.Region
	}
	if c.RequestedBy != "" {
		s += " by " + c.RequestedBy
	}
	if c.Reason != "" {
		s += fmt.Sprintf(" (%s)", c.Reason)
	}
	return s
}

func orUnknown(s string) string {
	if s == "" {
		return "no detail"
	}
	return s
}
