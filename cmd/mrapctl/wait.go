package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/mrap-engine/mrap/shared/local/runtime"
	"github.com/mrap-engine/mrap/shared/routing"
)

// waitTargets are the Regions a command adds traffic to: failover --to R adds R; failback
// returns every Region now at dial 0. Other commands add none.
func waitTargets(action, to string, st runtime.Status) []string {
	switch action {
	case "failover":
		return []string{to}
	case "failback":
		var out []string
		for _, r := range st.Regions {
			if r.Dial == 0 {
				out = append(out, r.Region)
			}
		}
		return out
	}
	return nil
}

// unhealthy are the targets whose quorum health is not OK, with why, in target order.
// A target the runtime does not know is left to the command to refuse.
func unhealthy(targets []string, st runtime.Status) (names []string, why []string) {
	for _, t := range targets {
		i := slices.IndexFunc(st.Regions, func(r runtime.RegionStatus) bool { return r.Region == t })
		if i < 0 {
			continue
		}
		r := st.Regions[i]
		if r.Alarm == string(routing.OK) {
			continue
		}
		w := t + " " + r.Alarm
		if r.Fault != "" && r.Fault != "up" {
			w += " (fault " + r.Fault + ")"
		}
		names, why = append(names, t), append(why, w)
	}
	return names, why
}

// waitHealthy waits, printing progress, until every Region the command adds traffic to is
// healthy (its alarm quorum OK), for at most bound. It returns nil when they are (at once
// when they already are), or an error saying which Region is not and what to run.
func waitHealthy(ctx context.Context, status func(context.Context) (runtime.Status, error), action, to string, bound, every time.Duration, w io.Writer) error {
	start := time.Now()
	last := ""
	for {
		st, err := status(ctx)
		if err != nil {
			return err
		}
		names, why := unhealthy(waitTargets(action, to, st), st)
		if len(names) == 0 {
			if last != "" {
				fmt.Fprintf(w, "  healthy after %s\n", time.Since(start).Round(100*time.Millisecond))
			}
			return nil
		}
		waited := time.Since(start)
		if waited >= bound {
			return notHealthyError(action, to, names, why, bound)
		}
		if now := strings.Join(why, ", "); now != last {
			fmt.Fprintf(w, "waiting up to %s for %s to be healthy: %s\n", bound, strings.Join(names, ", "), now)
			last = now
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("interrupted while waiting for %s to be healthy; nothing was changed", strings.Join(names, ", "))
		case <-time.After(min(every, bound-waited)):
		}
	}
}

func notHealthyError(action, to string, names, why []string, bound time.Duration) error {
	var fix []string
	for i, n := range names {
		if strings.Contains(why[i], "(fault ") {
			fix = append(fix, "mrapctl fault "+n+" up")
		}
	}
	again := "mrapctl " + action
	if action == "failover" {
		again += " --to " + to
	}
	msg := fmt.Sprintf("not applied: %s not healthy after %s, and %s would not add traffic to an unhealthy Region",
		strings.Join(why, ", "), bound, action)
	if len(fix) > 0 {
		msg += fmt.Sprintf("\n  clear the fault first: %s, then: %s", strings.Join(fix, "; "), again)
	} else {
		msg += fmt.Sprintf("\n  see why: mrapctl status; then run %s again (or with --wait 2m)", again)
	}
	msg += fmt.Sprintf("\n  to apply now anyway (the safety rules still decide): %s --wait 0", again)
	return fmt.Errorf("%s", msg)
}
