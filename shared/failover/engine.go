// Package failover orchestrates one failover decision of one decider (docs/failover.md): it
// reads, each bounded by a timeout, the quorum health of every member (never trusting the
// single event that woke it), the current routes and the decider records in every state
// copy; it goes on only with a majority of observers and of state copies, merges the
// records, asks the routing policy, lets an evacuation through at once and a damped change
// only from the primary decider, writes its intent to a majority of copies before
// submitting, and audits every decision in a log line, EMF metrics (dimension Decider) and,
// for changes, a notification. The failover Lambda function in every control Region and the
// local runtime drive the same Engine with different adapters.
package failover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mrap-engine/mrap/events"
	"github.com/mrap-engine/mrap/shared/docstore"
	"github.com/mrap-engine/mrap/shared/health"
	"github.com/mrap-engine/mrap/shared/mrap"
	"github.com/mrap-engine/mrap/shared/quorum"
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

// HealthReader reads the quorum health of every member; *health.QuorumReader provides it.
type HealthReader interface {
	Read(ctx context.Context) (health.View, error)
}

// StateCopies are the state stores of every Region of S (members ∪ witnesses ∪ deciders),
// by Region.
type StateCopies map[string]docstore.Store

// Options configure an Engine.
type Options struct {
	// Regions are the member Regions of the access point.
	Regions []string
	Policy  routing.Policy
	// Decider is this decider's Region; Deciders are every decider in priority order (the
	// first fresh one is the primary). Deciders defaults to [Decider].
	Decider  string
	Deciders []string
	// Prefix of the decider records in every copy (default DefaultPrefix).
	Prefix string
	// LeaseTTL is how long a heartbeat stays fresh (default 3m), MaxSkew the clock skew
	// allowed between deciders (default 5s), ViewBound the oldest a view may be when the
	// decider is about to submit (default 30s).
	LeaseTTL, MaxSkew, ViewBound time.Duration
	// ReadTimeout bounds each read of health, routes and a state copy (default 10s).
	ReadTimeout time.Duration
	// QuorumGrace is how long reads and writes of the state copies wait for the other copies
	// once a majority has answered (default quorum.DefaultGrace): a lost Region costs the
	// grace, not ReadTimeout, on each of them.
	QuorumGrace time.Duration
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

// Engine makes failover decisions as one decider.
type Engine struct {
	routes mrap.RoutesAPI
	health HealthReader
	copies StateCopies
	opts   Options
	mu     sync.Mutex // one decision at a time per engine
}

// New returns an Engine over its ports.
func New(routes mrap.RoutesAPI, h HealthReader, copies StateCopies, opts Options, optFns ...func(*Options)) (*Engine, error) {
	for _, fn := range optFns {
		fn(&opts)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if len(opts.Deciders) == 0 && opts.Decider != "" {
		opts.Deciders = []string{opts.Decider}
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = 3 * time.Minute
	}
	if opts.MaxSkew <= 0 {
		opts.MaxSkew = 5 * time.Second
	}
	if opts.ViewBound <= 0 {
		opts.ViewBound = 30 * time.Second
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = 10 * time.Second
	}
	if opts.QuorumGrace <= 0 {
		opts.QuorumGrace = quorum.DefaultGrace
	}
	var errs []error
	if routes == nil || h == nil {
		errs = append(errs, errors.New("routes API and health reader are required"))
	}
	if len(copies) == 0 {
		errs = append(errs, errors.New("no state copies"))
	}
	for r, c := range copies {
		if c == nil {
			errs = append(errs, fmt.Errorf("state copy of %s is nil", r))
		}
	}
	if len(opts.Regions) == 0 {
		errs = append(errs, errors.New("no member Regions"))
	}
	if opts.Decider == "" {
		errs = append(errs, errors.New("decider Region is required"))
	} else if !slices.Contains(opts.Deciders, opts.Decider) {
		errs = append(errs, fmt.Errorf("decider %s is not in the deciders %v", opts.Decider, opts.Deciders))
	}
	if err := opts.Policy.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("failover engine: %w", err)
	}
	return &Engine{routes: routes, health: h, copies: copies, opts: opts}, nil
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
	// CommandID is the command's id, the same for every decider it was sent to (the event
	// id when the command carries none).
	CommandID string `json:"commandId,omitempty"`
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
	// Decider is the Region of the decider that made the decision.
	Decider string `json:"decider,omitempty"`
	// Kind is KindEvacuation, KindDamped, KindCommand or KindNone.
	Kind string `json:"kind,omitempty"`
	// Primary is the decider this one took for the primary ("" when none is fresh).
	Primary string `json:"primary,omitempty"`
	// Observers names the observers counted and those unreadable.
	Observers string `json:"observers,omitempty"`
	// NoQuorum is set when a majority of observers or of state copies could not be read:
	// nothing was decided.
	NoQuorum bool `json:"noQuorum,omitempty"`
}

// Decision kinds (docs/failover.md, "Deciders").
const (
	KindEvacuation = "evacuation"
	KindDamped     = "damped"
	KindCommand    = "command"
	KindNone       = "none"
)

// CommandTrigger is the Trigger of an operator's command c, identified by id (the
// EventBridge event id is its default) and made at at: the one way a command event, the local
// runtime and mrapctl present a command to the engine.
func CommandTrigger(c routing.Command, id string, at time.Time) Trigger {
	return Trigger{Kind: TriggerCommand, EventID: id, CommandID: id, Region: c.Region, Command: &c, Time: at,
		Summary: fmt.Sprintf("command %s %s by %s: %s", c.Action, orDash(c.Region), orDash(c.RequestedBy), orDash(c.Reason))}
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
		c := routing.Command{Action: routing.Action(ev.Detail.Action), Region: ev.Detail.Region, Reason: ev.Detail.Reason, RequestedBy: ev.Detail.RequestedBy}
		tr := CommandTrigger(c, ev.Detail.CommandID, ev.Time)
		tr.EventID = ev.ID
		if tr.CommandID == "" {
			tr.CommandID = ev.ID
		}
		return tr, nil
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

// Evaluate makes one decision (docs/failover.md, "Deciders"): it reads health, routes and
// the state copies, goes on only with a majority of observers and of copies, decides,
// writes its intent to a majority of copies, submits (unless dry run), writes the outcome
// and audits. A view that aged past the view bound before the submit is read again once;
// errors leave the routes as they were or as submitted.
func (e *Engine) Evaluate(ctx context.Context, tr Trigger) (Outcome, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := Outcome{Trigger: tr, DryRun: e.opts.DryRun, Decider: e.opts.Decider}
	if tr.Kind == TriggerHealth && tr.Health != nil && !tr.Health.IsS3Issue() {
		out.Ignored = true
		out.Reason = "AWS Health event is not an S3 issue: no decision"
		e.opts.Logger.InfoContext(ctx, "failover event ignored", "trigger", tr.Summary, "reason", out.Reason, "decider", e.opts.Decider)
		return out, nil
	}
	for attempt := 1; ; attempt++ {
		o, stale, err := e.decide(ctx, out)
		if !stale || attempt == 2 {
			return o, err
		}
		e.opts.Logger.WarnContext(ctx, "failover view older than its bound before submitting: starting over", "decider", e.opts.Decider, "viewBound", e.opts.ViewBound.String())
	}
}

// view is what one decision read.
type view struct {
	at      time.Time
	health  health.View
	current []mrap.Route
	state   State
	own     Record
	copies  int
	read    int
	causes  []string
}

func (e *Engine) read(ctx context.Context) (view, error) {
	v := view{at: e.opts.Now(), copies: len(e.copies)}
	ctx, cancel := context.WithTimeout(ctx, e.opts.ReadTimeout)
	defer cancel()
	var wg sync.WaitGroup
	var herr, rerr error
	wg.Go(func() { v.health, herr = e.health.Read(ctx) })
	wg.Go(func() { v.current, rerr = e.routes.GetRoutes(ctx) })
	var all []Record
	wg.Go(func() { all, v.causes = e.readCopies(ctx) })
	wg.Wait()
	if rerr != nil {
		return v, fmt.Errorf("read current routes: %w", rerr)
	}
	if herr != nil {
		return v, fmt.Errorf("read health: %w", herr)
	}
	v.read = v.copies - len(v.causes)
	v.state = Merge(all)
	v.own = v.state.Records[e.opts.Decider]
	return v, nil
}

// fresh reports whether r's heartbeat is within the lease (plus the skew allowed) of now.
func (e *Engine) fresh(r Record, now time.Time) bool {
	return !r.Heartbeat.IsZero() && now.Sub(r.Heartbeat) <= e.opts.LeaseTTL+e.opts.MaxSkew && r.Heartbeat.Sub(now) <= e.opts.MaxSkew
}

// primary returns the first decider, in order, whose record is fresh (this decider counts
// as fresh: it is writing now), and why this decider may not make damped changes ("" when
// it may): it is not that decider, or its record has not yet been fresh for a lease TTL
// while another decider's is.
func (e *Engine) primary(st State, freshSince, now time.Time) (string, string) {
	first := ""
	othersFresh := false
	for _, d := range e.opts.Deciders {
		isFresh := d == e.opts.Decider || e.fresh(st.Records[d], now)
		if d != e.opts.Decider && isFresh {
			othersFresh = true
		}
		if first == "" && isFresh {
			first = d
		}
	}
	if first != e.opts.Decider {
		return first, fmt.Sprintf("decider %s: %s is the primary", e.opts.Decider, first)
	}
	if until := freshSince.Add(e.opts.LeaseTTL); othersFresh && now.Before(until) {
		return first, fmt.Sprintf("decider %s warming up as primary until %s", e.opts.Decider, until.UTC().Format(time.RFC3339))
	}
	return first, ""
}

func (e *Engine) decide(ctx context.Context, out Outcome) (Outcome, bool, error) {
	tr := out.Trigger
	v, err := e.read(ctx)
	if err != nil {
		o, err := e.fail(ctx, out, "read", err)
		return o, false, err
	}
	now := v.at
	out.Observers = v.health.Counted()
	needCopies := quorum.Majority(v.copies)
	// Automatic decisions need a majority of observers and of copies; an operator's command
	// needs the copies (replay protection, overrides) and goes on with whatever health it
	// could read (members without votes count as INSUFFICIENT_DATA).
	if (!v.health.HasQuorum() && tr.Command == nil) || v.read < needCopies {
		out.NoQuorum, out.Kind = true, KindNone
		out.Reason = fmt.Sprintf("no quorum, nothing decided: %s; %d/%d state copies read (need %d)", out.Observers, v.read, v.copies, needCopies)
		if len(v.causes) > 0 {
			out.Reason += "; unread " + strings.Join(v.causes, ", ")
		}
		e.opts.Logger.WarnContext(ctx, "failover decision", "outcome", "no-quorum", "decider", e.opts.Decider, "trigger", tr.Summary, "triggerKind", tr.Kind, "eventId", tr.EventID, "observers", out.Observers, "reason", out.Reason)
		e.emit("no-quorum", routing.Decision{})
		return out, false, nil
	}
	st := v.state
	rec := v.own
	rec.Decider = e.opts.Decider
	rec.Seq++
	if !e.fresh(v.own, now) || rec.FreshSince.IsZero() {
		rec.FreshSince = now
	}
	rec.Heartbeat = now
	if tr.Command != nil {
		if reason := staleCommand(tr, st, now); reason != "" {
			out.Ignored, out.Reason, out.Kind = true, reason, KindNone
			e.opts.Logger.WarnContext(ctx, "failover command ignored", "trigger", tr.Summary, "eventId", tr.EventID, "commandId", tr.CommandID, "decider", e.opts.Decider, "reason", reason)
			e.emit("ignored", routing.Decision{})
			return out, false, nil
		}
		rec.LastCommandID, rec.LastCommandAt = tr.CommandID, tr.Time
		if rec.LastCommandAt.IsZero() {
			rec.LastCommandAt = now
		}
	}
	issues := maps.Clone(st.HealthIssues)
	if tr.Kind == TriggerHealth && tr.Health != nil && slices.Contains(e.opts.Regions, tr.Region) {
		issues = applyHealthEvent(issues, tr.Region, *tr.Health, now)
	}
	rec.HealthIssues = issues
	healthByRegion := maps.Clone(v.health.Health)
	if healthByRegion == nil {
		healthByRegion = map[string]routing.RegionHealth{}
	}
	mergeHealthIssues(healthByRegion, issues)
	primary, hold := e.primary(st, rec.FreshSince, now)
	out.Primary = primary
	in := routing.Input{
		Routes:     mrap.Dials(v.current),
		Health:     healthByRegion,
		Policy:     e.opts.Policy,
		LastChange: st.LastChange,
		Now:        now,
		Command:    tr.Command,
		Overrides:  st.Overrides,
		HoldDamped: hold,
	}
	d := routing.Decide(in)
	out.Routes, out.Changed, out.Held, out.Refused, out.TotalOutage, out.Reason = d.Routes, d.Changed, d.Held, d.Refused, d.TotalOutage, d.Reason
	switch {
	case tr.Command != nil:
		out.Kind = KindCommand
	case d.Changed && d.Evacuation:
		out.Kind = KindEvacuation
	case d.Changed:
		out.Kind = KindDamped
	default:
		out.Kind = KindNone
	}
	if d.Err != nil {
		o, err := e.fail(ctx, out, "decide", d.Err)
		return o, false, err
	}
	if e.opts.DryRun {
		if d.Changed {
			out.Reason = "DRY RUN, nothing submitted: " + out.Reason
		}
		e.audit(ctx, out, in, d, "dry-run")
		return out, false, nil
	}
	if !overridesEqual(d.Overrides, st.Overrides) {
		rec.Overrides, rec.OverridesAt = d.Overrides, now
	} else {
		rec.Overrides, rec.OverridesAt = st.Overrides, st.OverridesAt
	}
	// The full reason is in the audit line; the record keeps its start (records are read
	// from every copy by every decider on every decision).
	rec.LastDecision = LastDecision{Time: now, Kind: out.Kind, Reason: cut(out.Reason, 200), Observers: cut(out.Observers, 200)}
	if !d.Changed {
		rec.LastDecision.Outcome = outcomeLabel(out)
		recordCommand(&rec, tr, rec.LastDecision.Outcome, out.Reason)
		if acks, err := e.write(ctx, rec); acks < needCopies {
			e.opts.Logger.WarnContext(ctx, "decider record not written to a majority of state copies", "decider", e.opts.Decider, "acks", acks, "need", needCopies, "error", errString(err))
		}
		e.audit(ctx, out, in, d, outcomeLabel(out))
		return out, false, nil
	}
	// Intent: the change, now, in a majority of copies before submitting (fencing).
	rec.LastChange, rec.LastRoutes, rec.LastReason = now, d.Routes, d.Reason
	rec.LastDecision.Outcome = CommandIntent
	recordCommand(&rec, tr, CommandIntent, out.Reason)
	if acks, err := e.write(ctx, rec); acks < needCopies {
		o, err := e.fail(ctx, out, "write intent", fmt.Errorf("%d of %d state copies acknowledged, need %d: %w", acks, v.copies, needCopies, err))
		return o, false, err
	}
	if age := e.opts.Now().Sub(now); age > e.opts.ViewBound {
		out.Reason = fmt.Sprintf("view %s old, past its bound %s: nothing submitted", age.Round(time.Millisecond), e.opts.ViewBound)
		return out, true, nil
	}
	res, err := e.routes.SubmitRoutes(ctx, v.current, d.Routes)
	out.ControlRegion = res.ControlRegion
	if err != nil {
		o, err := e.fail(ctx, out, "submit routes", err)
		return o, false, err
	}
	out.Submitted = true
	rec.Seq++
	rec.Heartbeat = e.opts.Now()
	rec.LastDecision.Outcome = outcomeLabel(out)
	recordCommand(&rec, tr, rec.LastDecision.Outcome, out.Reason)
	if acks, err := e.write(ctx, rec); acks < needCopies {
		e.opts.Logger.WarnContext(ctx, "outcome record not written to a majority of state copies (the intent is)", "decider", e.opts.Decider, "acks", acks, "error", errString(err))
	}
	e.audit(ctx, out, in, d, outcomeLabel(out))
	return out, false, nil
}

// write puts rec in every copy in parallel and returns the acknowledgements; once a majority
// has acknowledged it waits for the others only QuorumGrace.
func (e *Engine) write(ctx context.Context, rec Record) (int, error) {
	b, err := json.Marshal(rec)
	if err != nil {
		return 0, fmt.Errorf("encode record: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, e.opts.ReadTimeout)
	defer cancel()
	regions := slices.Sorted(maps.Keys(e.copies))
	_, errs := quorum.Gather(ctx, len(regions), quorum.Majority(len(regions)), e.opts.QuorumGrace,
		func(ctx context.Context, i int) (string, error) {
			return e.copies[regions[i]].Put(ctx, RecordKey(e.opts.Prefix, e.opts.Decider), b, docstore.Cond{})
		})
	acks := 0
	for i, err := range errs {
		if err == nil {
			acks++
		} else {
			errs[i] = fmt.Errorf("%s: %w", regions[i], err)
		}
	}
	return acks, errors.Join(errs...)
}

// readCopies reads every decider's record in every state copy, in parallel; once a majority
// of copies has answered it waits for the others only QuorumGrace. It returns the records
// read and, per copy not read, its Region and the cause.
func (e *Engine) readCopies(ctx context.Context) ([]Record, []string) {
	regions := slices.Sorted(maps.Keys(e.copies))
	recs, errs := quorum.Gather(ctx, len(regions), quorum.Majority(len(regions)), e.opts.QuorumGrace,
		func(ctx context.Context, i int) ([]Record, error) {
			return ReadRecords(ctx, e.copies[regions[i]], e.opts.Prefix, e.opts.Deciders)
		})
	var all []Record
	var causes []string
	for i, r := range regions {
		if errs[i] != nil { // a copy with any failure is unread
			causes = append(causes, fmt.Sprintf("%s (%v)", r, errs[i]))
			continue
		}
		all = append(all, recs[i]...)
	}
	return all, causes
}

// State reads the state copies as a decision does (bounded by ReadTimeout, a lost copy
// costing the grace) and merges what it read (for status commands).
func (e *Engine) State(ctx context.Context) (State, error) {
	ctx, cancel := context.WithTimeout(ctx, e.opts.ReadTimeout)
	defer cancel()
	all, causes := e.readCopies(ctx)
	if len(causes) == len(e.copies) {
		return State{}, fmt.Errorf("no state copy readable: %s", strings.Join(causes, "; "))
	}
	return Merge(all), nil
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func overridesEqual(a, b routing.Overrides) bool {
	return a.Pinned == b.Pinned && slices.Equal(a.Drained, b.Drained)
}

// fail audits an error: nothing (more) was submitted.
func (e *Engine) fail(ctx context.Context, out Outcome, step string, err error) (Outcome, error) {
	err = fmt.Errorf("%s: %w", step, err)
	out.Reason = "error, routes left as they were: " + err.Error()
	if out.ControlRegion != "" {
		out.Reason = "error after submitting: " + err.Error()
	}
	e.opts.Logger.ErrorContext(ctx, "failover decision failed", "decider", e.opts.Decider, "trigger", out.Trigger.Summary, "triggerKind", out.Trigger.Kind, "eventId", out.Trigger.EventID, "step", step, "error", err.Error(), "dryRun", out.DryRun)
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
		"decider", out.Decider, "kind", out.Kind, "primary", out.Primary, "observers", out.Observers,
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
		e.opts.Metrics.Emit(map[string]string{"Decider": e.opts.Decider, "Region": r}, telemetry.Metric{Name: MetricTrafficDial, Unit: telemetry.None, Value: float64(inForce[r])})
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
	msg := fmt.Sprintf("%s\n\nDecider: %s (%s)\nTrigger: %s\nObservers: %s\nBefore: %s\nAfter: %s\nSubmitted: %v (control Region %s)\n",
		out.Reason, out.Decider, out.Kind, out.Trigger.Summary, out.Observers, formatRoutes(in.Routes), formatRoutes(d.Routes), out.Submitted, orDash(out.ControlRegion))
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
	e.opts.Metrics.Emit(map[string]string{"Decider": e.opts.Decider}, metrics...)
}

// MaxCommandAge is how old a command event may be and still be applied: an archived
// command replayed later must not move traffic.
const MaxCommandAge = 15 * time.Minute

// staleCommand says why a command must not be applied: the same command again after a
// decider recorded what came of it, an event not newer than the last command applied, or one
// older than MaxCommandAge. A command recorded only as an intent is decided again: its submit
// failed, its view went past the bound, or its decider was lost before the outcome, and the
// routes may not have changed (deciding it again over the routes as they are is safe: a
// change already made decides as unchanged).
func staleCommand(tr Trigger, st State, now time.Time) string {
	switch {
	case tr.CommandID != "" && commandDecided(st, tr.CommandID):
		return fmt.Sprintf("command %s was already applied", tr.CommandID)
	case !tr.Time.IsZero() && !st.LastCommandAt.IsZero() && tr.Time.Before(st.LastCommandAt):
		return fmt.Sprintf("command of %s is older than the last command applied (%s)", tr.Time.UTC().Format(time.RFC3339), st.LastCommandAt.UTC().Format(time.RFC3339))
	case !tr.Time.IsZero() && now.Sub(tr.Time) > MaxCommandAge:
		return fmt.Sprintf("command of %s is older than %s: send it again if it still holds", tr.Time.UTC().Format(time.RFC3339), MaxCommandAge)
	}
	return ""
}

// commandDecided reports whether any decider's record holds an outcome of command id other
// than CommandIntent (records written before outcomes were recorded hold none: applied). The
// merged LastCommand fields are one of these records' (Merge), so the records alone decide.
func commandDecided(st State, id string) bool {
	for _, r := range st.Records {
		if r.LastCommandID == id && r.LastCommandOutcome != CommandIntent {
			return true
		}
	}
	return false
}

// CommandIntent is the outcome a decider records for a command whose change it is
// submitting; the outcome of the submit replaces it.
const CommandIntent = "intent"

// recordCommand notes in rec what came of the command of tr (nothing for other triggers).
func recordCommand(rec *Record, tr Trigger, outcome, reason string) {
	if tr.Command == nil {
		return
	}
	rec.LastCommandOutcome, rec.LastCommandReason = outcome, cut(reason, 200)
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

// applyHealthEvent records an AWS Health issue for S3 in region as open or closed, keyed by
// event ARN: the copy AWS sends to the backup Regions (same event ARN, communication id and
// update time) and replays change nothing (an update not newer than the one held is ignored). Closed issues are
// kept a week as tombstones for that reason.
func applyHealthEvent(issues map[string]HealthIssue, region string, ev events.HealthEvent, now time.Time) map[string]HealthIssue {
	if !ev.IsS3Issue() {
		return issues
	}
	if issues == nil {
		issues = map[string]HealthIssue{}
	}
	at := ev.UpdatedAt()
	arn := ev.Detail.EventARN
	if held, ok := issues[arn]; ok && !at.After(held.UpdatedAt) {
		return issues
	}
	desc := ""
	if len(ev.Detail.EventDescription) > 0 {
		desc = ev.Detail.EventDescription[0].LatestDescription
	}
	switch ev.Detail.StatusCode {
	case events.HealthStatusOpen, events.HealthStatusClosed:
		issues[arn] = HealthIssue{Region: region, EventARN: arn, CommunicationID: ev.Detail.CommunicationID,
			Open: ev.Detail.StatusCode == events.HealthStatusOpen, UpdatedAt: at, Description: desc}
	}
	for k, is := range issues {
		if !is.Open && now.Sub(is.UpdatedAt) > MaxRecordAge {
			delete(issues, k)
		}
	}
	return issues
}

// mergeHealthIssues makes a Region whose alarms are OK but that has an open AWS Health
// issue for S3 count as INSUFFICIENT_DATA: no traffic is added to it, and under the
// "unhealthy" policy traffic leaves it. Alarms in ALARM stay ALARM.
func mergeHealthIssues(h map[string]routing.RegionHealth, issues map[string]HealthIssue) {
	for _, arn := range slices.Sorted(maps.Keys(issues)) {
		is := issues[arn]
		region := is.Region
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

func formatRoutes(r map[string]int) string {
	keys := slices.Sorted(maps.Keys(r))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, r[k]))
	}
	return strings.Join(parts, " ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
