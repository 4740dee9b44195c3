// Package failover orchestrates one failover decision: it reads the current routes and the
// health of every Region (never trusting the single event that woke it), asks the routing
// policy, submits the change unless in dry run, remembers what it did, and audits every
// decision in a log line, EMF metrics and, for changes, a notification. The failover Lambda
// function and the local runtime drive the same Engine with different adapters.
package failover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/mrap-engine/mrap/events"
	"github.com/mrap-engine/mrap/shared/mrap"
	"github.com/mrap-engine/mrap/shared/routing"
	"github.com/mrap-engine/mrap/shared/telemetry"
)

// Metric names of the failover function (docs/contracts.md).
const (
	MetricDecisions      = "Decisions"
	MetricRoutingChanges = "RoutingChanges"
	MetricActiveRegions  = "ActiveRegions"
	MetricTotalOutage    = "TotalOutage"
	// MetricTrafficDial is the dial in force per Region after each decision (dimension Region).
	MetricTrafficDial = "TrafficDial"
)

// EventBridge source and detail-type of scheduled re-evaluations.
const (
	ScheduleSource     = "aws.events"
	DetailTypeSchedule = "Scheduled Event"
)

// HealthReader reads the health of Regions; *health.AlarmReader provides it. A partial
// failure returns a complete map (unreadable Regions as INSUFFICIENT_DATA) and an error.
type HealthReader interface {
	Read(ctx context.Context, regions []string) (map[string]routing.RegionHealth, error)
}

// Options configure an Engine.
type Options struct {
	// Regions are the member Regions of the access point.
	Regions []string
	Policy  routing.Policy
	// DryRun decides and reports but submits and saves nothing.
	DryRun bool
	// Notifier receives changes and refused commands; nil sends none.
	Notifier Notifier
	// Metrics receives the EMF lines; nil emits none.
	Metrics *telemetry.Metrics
	// Logger receives one line per decision; nil discards.
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Engine makes failover decisions.
type Engine struct {
	routes mrap.RoutesAPI
	health HealthReader
	state  StateStore
	opts   Options
}

// New returns an Engine over its ports.
func New(routes mrap.RoutesAPI, health HealthReader, state StateStore, opts Options, optFns ...func(*Options)) (*Engine, error) {
	for _, fn := range optFns {
		fn(&opts)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	var errs []error
	if routes == nil || health == nil || state == nil {
		errs = append(errs, errors.New("routes API, health reader and state store are required"))
	}
	if len(opts.Regions) == 0 {
		errs = append(errs, errors.New("no member Regions"))
	}
	if err := opts.Policy.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("failover engine: %w", err)
	}
	return &Engine{routes: routes, health: health, state: state, opts: opts}, nil
}

// Trigger is what woke the engine. It is reported, not trusted: the decision reads the
// current routes and alarms itself.
type Trigger struct {
	// Kind says what kind of event started the evaluation.
	Kind TriggerKind `json:"kind"`
	// EventID is the EventBridge event id.
	EventID string `json:"eventId,omitempty"`
	// Region the event is about, when it is about one.
	Region string `json:"region,omitempty"`
	// Summary is one line about the event.
	Summary string `json:"summary"`
	// Command is the operator's request (TriggerCommand).
	Command *routing.Command `json:"command,omitempty"`
	// Time is the event's time.
	Time time.Time `json:"time,omitzero"`
	// Health is the AWS Health event (TriggerHealth).
	Health *events.HealthEvent `json:"-"`
}

// TriggerKind says what started an evaluation; its value is the trigger's "kind" in
// outcomes and logs.
type TriggerKind string

// The kinds of trigger.
const (
	TriggerAlarm    TriggerKind = "alarm"    // a CloudWatch alarm state change
	TriggerHealth   TriggerKind = "health"   // an AWS Health event
	TriggerCommand  TriggerKind = "command"  // an operator's routing command
	TriggerSchedule TriggerKind = "schedule" // a periodic or scheduled re-evaluation
)

// Outcome reports one invocation.
type Outcome struct {
	Trigger Trigger `json:"trigger"`
	// Ignored is set for events that need no decision (an AWS Health event not about S3).
	Ignored       bool           `json:"ignored,omitempty"`
	Routes        map[string]int `json:"routes,omitempty"`
	Changed       bool           `json:"changed"`
	Submitted     bool           `json:"submitted"`
	DryRun        bool           `json:"dryRun,omitempty"`
	Held          bool           `json:"held,omitempty"`
	Refused       bool           `json:"refused,omitempty"`
	TotalOutage   bool           `json:"totalOutage,omitempty"`
	ControlRegion string         `json:"controlRegion,omitempty"`
	Reason        string         `json:"reason"`
}

// ParseEvent turns an EventBridge event into a Trigger. Malformed and unknown events are
// errors that say what was expected.
func ParseEvent(raw []byte) (Trigger, error) {
	env, err := events.ParseEvent(raw)
	if err != nil {
		return Trigger{}, err
	}
	switch {
	case env.Is(events.CloudWatchSource, events.DetailTypeAlarmStateChange):
		ev, err := events.ParseAlarmStateChange(raw)
		if err != nil {
			return Trigger{}, err
		}
		return Trigger{Kind: TriggerAlarm, EventID: ev.ID, Region: ev.Region,
			Summary: fmt.Sprintf("alarm %s in %s: %s -> %s at %s", ev.Detail.AlarmName, ev.Region, ev.Detail.PreviousState.Value, ev.Detail.State.Value, ev.Detail.State.Timestamp)}, nil
	case env.Is(events.HealthSource, events.DetailTypeHealthEvent):
		ev, err := events.ParseHealthEvent(raw)
		if err != nil {
			return Trigger{}, err
		}
		return Trigger{Kind: TriggerHealth, EventID: ev.ID, Region: ev.AffectedRegion(), Health: &ev,
			Summary: fmt.Sprintf("AWS Health %s %s %s in %s (%s)", ev.Detail.Service, ev.Detail.EventTypeCode, ev.Detail.StatusCode, ev.AffectedRegion(), ev.Detail.EventARN)}, nil
	case env.Is(events.CommandSource, events.DetailTypeRoutingCommand):
		ev, err := events.ParseRoutingCommand(raw)
		if err != nil {
			return Trigger{}, err
		}
		c := &routing.Command{Action: routing.Action(ev.Detail.Action), Region: ev.Detail.Region, Reason: ev.Detail.Reason, RequestedBy: ev.Detail.RequestedBy}
		return Trigger{Kind: TriggerCommand, EventID: ev.ID, Region: ev.Detail.Region, Command: c, Time: ev.Time,
			Summary: fmt.Sprintf("command %s %s by %s: %s", ev.Detail.Action, ev.Detail.Region, orDash(ev.Detail.RequestedBy), orDash(ev.Detail.Reason))}, nil
	case env.Is(ScheduleSource, DetailTypeSchedule):
		return Trigger{Kind: TriggerSchedule, EventID: env.ID, Summary: "scheduled re-evaluation"}, nil
	}
	return Trigger{}, fmt.Errorf("unknown event: source %q detail-type %q; want %q, %q, %q or %q",
		env.Source, env.DetailType, events.DetailTypeAlarmStateChange, events.DetailTypeHealthEvent, events.DetailTypeRoutingCommand, DetailTypeSchedule)
}

// HandleEvent parses raw and evaluates it. A malformed or unknown event is audited and
// returned as an error; nothing is submitted.
func (e *Engine) HandleEvent(ctx context.Context, raw []byte) (Outcome, error) {
	tr, err := ParseEvent(raw)
	if err != nil {
		e.opts.Logger.ErrorContext(ctx, "failover event rejected", "error", err.Error())
		e.emit("rejected", routing.Decision{})
		return Outcome{Reason: "event rejected: " + err.Error()}, err
	}
	return e.Evaluate(ctx, tr)
}

// Evaluate reads the current routes and health, decides, submits (unless dry run), saves
// the engine state and audits. Errors leave the routes as they were or as submitted.
func (e *Engine) Evaluate(ctx context.Context, tr Trigger) (Outcome, error) {
	now := e.opts.Now()
	out := Outcome{Trigger: tr, DryRun: e.opts.DryRun}
	if tr.Kind == TriggerHealth && tr.Health != nil && !tr.Health.IsS3Issue() {
		out.Ignored = true
		out.Reason = "AWS Health event is not an S3 issue: no decision"
		e.opts.Logger.InfoContext(ctx, "failover event ignored", "trigger", tr.Summary, "reason", out.Reason)
		return out, nil
	}
	st, err := e.state.Load(ctx)
	if err != nil {
		return e.fail(ctx, out, "read engine state", err)
	}
	before := cloneState(st)
	if tr.Command != nil {
		if reason := staleCommand(tr, st, now); reason != "" {
			out.Ignored, out.Reason = true, reason
			e.opts.Logger.WarnContext(ctx, "failover command ignored", "trigger", tr.Summary, "eventId", tr.EventID, "reason", reason)
			e.emit("ignored", routing.Decision{})
			return out, nil
		}
		st.LastCommandID, st.LastCommandAt = tr.EventID, tr.Time
	}
	if tr.Kind == TriggerHealth && tr.Health != nil && slices.Contains(e.opts.Regions, tr.Region) {
		applyHealthEvent(&st, tr.Region, *tr.Health, now)
	}
	current, err := e.routes.GetRoutes(ctx)
	if err != nil {
		return e.fail(ctx, out, "read current routes", err)
	}
	healthByRegion, herr := e.health.Read(ctx, e.opts.Regions)
	if herr != nil {
		e.opts.Logger.WarnContext(ctx, "some Regions' alarms are unreadable; they count as INSUFFICIENT_DATA", "error", herr.Error())
	}
	mergeHealthIssues(healthByRegion, st.HealthIssues)
	in := routing.Input{
		Routes:     mrap.Dials(current),
		Health:     healthByRegion,
		Policy:     e.opts.Policy,
		LastChange: st.LastChange,
		Now:        now,
		Command:    tr.Command,
		Overrides:  st.Overrides,
	}
	d := routing.Decide(in)
	out.Routes, out.Changed, out.Held, out.Refused, out.TotalOutage, out.Reason = d.Routes, d.Changed, d.Held, d.Refused, d.TotalOutage, d.Reason
	if d.Err != nil {
		return e.fail(ctx, out, "decide", d.Err)
	}
	if e.opts.DryRun {
		if d.Changed {
			out.Reason = "DRY RUN, nothing submitted: " + out.Reason
		}
		e.audit(ctx, out, in, d, "dry-run")
		return out, nil
	}
	st.Overrides = d.Overrides
	if d.Changed {
		res, err := e.routes.SubmitRoutes(ctx, current, d.Routes)
		out.ControlRegion = res.ControlRegion
		if err != nil {
			// The change may have been applied (read-back mismatch): record it so the cooldown holds.
			if res.ControlRegion != "" {
				st.LastChange, st.LastReason = now, d.Reason
				_ = e.state.Save(ctx, st)
			}
			return e.fail(ctx, out, "submit routes", err)
		}
		out.Submitted = true
		st.LastChange, st.LastReason = now, d.Reason
	}
	if !stateEqual(before, st) {
		if err := e.state.Save(ctx, st); err != nil {
			e.audit(ctx, out, in, d, "state-unsaved")
			return out, fmt.Errorf("save engine state after the decision (routes %s): %w", submittedWord(out.Submitted), err)
		}
	}
	e.audit(ctx, out, in, d, outcomeLabel(out))
	return out, nil
}

// fail audits an error: nothing (more) was submitted.
func (e *Engine) fail(ctx context.Context, out Outcome, step string, err error) (Outcome, error) {
	err = fmt.Errorf("%s: %w", step, err)
	out.Reason = "error, routes left as they were: " + err.Error()
	if out.ControlRegion != "" {
		out.Reason = "error after submitting: " + err.Error()
	}
	e.opts.Logger.ErrorContext(ctx, "failover decision failed", "trigger", out.Trigger.Summary, "triggerKind", out.Trigger.Kind, "eventId", out.Trigger.EventID, "step", step, "error", err.Error(), "dryRun", out.DryRun)
	e.emit("error", routing.Decision{})
	if e.opts.Notifier != nil && !out.DryRun && out.ControlRegion != "" {
		if nerr := e.opts.Notifier.Notify(ctx, "MRAP failover: routing change not confirmed", out.Reason); nerr != nil {
			e.opts.Logger.ErrorContext(ctx, "audit notification failed", "error", nerr.Error())
		}
	}
	return out, err
}

func (e *Engine) audit(ctx context.Context, out Outcome, in routing.Input, d routing.Decision, label string) {
	attrs := []any{
		"outcome", label,
		"trigger", out.Trigger.Summary, "triggerKind", out.Trigger.Kind, "eventId", out.Trigger.EventID,
		"changed", d.Changed, "submitted", out.Submitted, "dryRun", out.DryRun, "held", d.Held, "refused", d.Refused,
		"totalOutage", d.TotalOutage, "before", in.Routes, "after", d.Routes, "active", d.Active(),
		"controlRegion", out.ControlRegion, "mode", string(in.Policy.Mode), "reason", d.Reason,
	}
	if d.TotalOutage {
		e.opts.Logger.ErrorContext(ctx, "failover decision", attrs...)
	} else {
		e.opts.Logger.InfoContext(ctx, "failover decision", attrs...)
	}
	e.emit(label, d)
	inForce := in.Routes
	if out.Submitted {
		inForce = d.Routes
	}
	for _, r := range slices.Sorted(maps.Keys(inForce)) {
		e.opts.Metrics.Emit(map[string]string{"Region": r}, telemetry.Metric{Name: MetricTrafficDial, Unit: telemetry.None, Value: float64(inForce[r])})
	}
	if e.opts.Notifier == nil || !(d.Changed || d.Refused) {
		return
	}
	subject := "MRAP failover: routes changed"
	switch {
	case d.Refused:
		subject = "MRAP failover: command refused"
	case out.DryRun:
		subject = "MRAP failover (dry run): would change routes"
	}
	if d.TotalOutage {
		subject += " (TOTAL OUTAGE)"
	}
	msg := fmt.Sprintf("%s\n\nTrigger: %s\nBefore: %s\nAfter: %s\nSubmitted: %v (control Region %s)\n",
		out.Reason, out.Trigger.Summary, formatRoutes(in.Routes), formatRoutes(d.Routes), out.Submitted, orDash(out.ControlRegion))
	if err := e.opts.Notifier.Notify(ctx, subject, msg); err != nil {
		e.opts.Logger.ErrorContext(ctx, "audit notification failed", "error", err.Error())
	}
}

func (e *Engine) emit(label string, d routing.Decision) {
	changes, outage := 0.0, 0.0
	if d.Changed && label != "dry-run" {
		changes = 1
	}
	if d.TotalOutage {
		outage = 1
	}
	metrics := []telemetry.Metric{
		{Name: MetricDecisions, Unit: telemetry.Count, Value: 1},
		{Name: MetricRoutingChanges, Unit: telemetry.Count, Value: changes},
		{Name: MetricTotalOutage, Unit: telemetry.Count, Value: outage},
	}
	if d.Routes != nil {
		metrics = append(metrics, telemetry.Metric{Name: MetricActiveRegions, Unit: telemetry.Count, Value: float64(len(d.Active()))})
	}
	e.opts.Metrics.Emit(nil, metrics...)
}

// MaxCommandAge is how old a command event may be and still be applied: an archived
// command replayed later must not move traffic.
const MaxCommandAge = 15 * time.Minute

// staleCommand says why a command must not be applied: the same event again, an event not
// newer than the last command applied, or one older than MaxCommandAge.
func staleCommand(tr Trigger, st State, now time.Time) string {
	switch {
	case tr.EventID != "" && tr.EventID == st.LastCommandID:
		return fmt.Sprintf("command event %s was already applied", tr.EventID)
	case !tr.Time.IsZero() && !st.LastCommandAt.IsZero() && tr.Time.Before(st.LastCommandAt):
		return fmt.Sprintf("command of %s is older than the last command applied (%s)", tr.Time.UTC().Format(time.RFC3339), st.LastCommandAt.UTC().Format(time.RFC3339))
	case !tr.Time.IsZero() && now.Sub(tr.Time) > MaxCommandAge:
		return fmt.Sprintf("command of %s is older than %s: send it again if it still holds", tr.Time.UTC().Format(time.RFC3339), MaxCommandAge)
	}
	return ""
}

func outcomeLabel(o Outcome) string {
	switch {
	case o.Refused:
		return "refused"
	case o.Held:
		return "held"
	case o.Submitted:
		return "changed"
	}
	return "unchanged"
}

// applyHealthEvent records an AWS Health issue for S3 in region as open or closed. Updates
// not newer than the one held for the same event are ignored, so a replayed event changes
// nothing; closed issues are kept a week as tombstones for that reason.
func applyHealthEvent(st *State, region string, ev events.HealthEvent, now time.Time) {
	if !ev.IsS3Issue() {
		return
	}
	at := ev.UpdatedAt()
	held, ok := st.HealthIssues[region]
	if ok && held.EventARN == ev.Detail.EventARN && !at.After(held.UpdatedAt) {
		return
	}
	if ok && held.EventARN != ev.Detail.EventARN && held.Open && ev.Detail.StatusCode != events.HealthStatusOpen {
		return // a closing update of another event leaves the open one alone
	}
	if st.HealthIssues == nil {
		st.HealthIssues = map[string]HealthIssue{}
	}
	desc := ""
	if len(ev.Detail.EventDescription) > 0 {
		desc = ev.Detail.EventDescription[0].LatestDescription
	}
	switch ev.Detail.StatusCode {
	case events.HealthStatusOpen:
		st.HealthIssues[region] = HealthIssue{EventARN: ev.Detail.EventARN, Open: true, UpdatedAt: at, Description: desc}
	case events.HealthStatusClosed:
		st.HealthIssues[region] = HealthIssue{EventARN: ev.Detail.EventARN, Open: false, UpdatedAt: at, Description: desc}
	}
	for r, is := range st.HealthIssues {
		if !is.Open && now.Sub(is.UpdatedAt) > 7*24*time.Hour {
			delete(st.HealthIssues, r)
		}
	}
}

// mergeHealthIssues makes a Region whose alarms are OK but that has an open AWS Health
// issue for S3 count as INSUFFICIENT_DATA: no traffic is added to it, and under the
// "unhealthy" policy traffic leaves it. Alarms in ALARM stay ALARM.
func mergeHealthIssues(h map[string]routing.RegionHealth, issues map[string]HealthIssue) {
	for region, is := range issues {
		if !is.Open {
			continue
		}
		cur, ok := h[region]
		if ok && cur.State != routing.OK {
			continue
		}
		h[region] = routing.RegionHealth{State: routing.InsufficientData, Since: is.UpdatedAt, Detail: "open AWS Health issue " + is.EventARN}
	}
}

func cloneState(s State) State {
	c := s
	c.Overrides.Drained = slices.Clone(s.Overrides.Drained)
	c.HealthIssues = maps.Clone(s.HealthIssues)
	return c
}

func stateEqual(a, b State) bool {
	return a.LastChange.Equal(b.LastChange) && a.LastReason == b.LastReason &&
		a.LastCommandID == b.LastCommandID && a.LastCommandAt.Equal(b.LastCommandAt) &&
		a.Overrides.Pinned == b.Overrides.Pinned && slices.Equal(a.Overrides.Drained, b.Overrides.Drained) &&
		maps.Equal(a.HealthIssues, b.HealthIssues)
}

func formatRoutes(r map[string]int) string {
	keys := slices.Sorted(maps.Keys(r))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, r[k]))
	}
	return strings.Join(parts, " ")
}

func submittedWord(b bool) string {
	if b {
		return "submitted"
	}
	return "unchanged"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
