// Package alarmeval is the local stand-in for a CloudWatch metric alarm: it keeps the last M
// datapoints of one metric, decides the alarm state with CloudWatch's "N out of M"
// rule and, on every state change, builds the "CloudWatch Alarm State Change" event AWS
// puts on EventBridge. It is pure: the caller feeds datapoints and the clock.
package alarmeval

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/mrap-engine/mrap/events"
)

// Comparison says when a datapoint breaches the threshold.
type Comparison string

// The comparisons the local alarms use.
const (
	LessThanThreshold    Comparison = "LessThanThreshold"
	GreaterThanThreshold Comparison = "GreaterThanThreshold"
)

// Config describes one alarm.
type Config struct {
	Name        string
	Description string
	Region      string // Region the alarm lives in (the envelope's region)
	AccountID   string
	Metric      string // metric name, for the reason text
	Threshold   float64
	Comparison  Comparison
	// DatapointsToAlarm (N) of the last EvaluationPeriods (M) datapoints must breach.
	DatapointsToAlarm int
	EvaluationPeriods int
}

// Alarm is the evaluation state of one alarm. The zero State is INSUFFICIENT_DATA.
type Alarm struct {
	cfg    Config
	points []float64
	state  string
	since  time.Time
	reason string
}

// New returns an alarm in INSUFFICIENT_DATA.
func New(cfg Config) (*Alarm, error) {
	if cfg.EvaluationPeriods < 1 || cfg.DatapointsToAlarm < 1 || cfg.DatapointsToAlarm > cfg.EvaluationPeriods {
		return nil, fmt.Errorf("alarm %s: want 1 <= datapoints to alarm (%d) <= evaluation periods (%d)",
			cfg.Name, cfg.DatapointsToAlarm, cfg.EvaluationPeriods)
	}
	if cfg.Comparison != LessThanThreshold && cfg.Comparison != GreaterThanThreshold {
		return nil, fmt.Errorf("alarm %s: unknown comparison %q", cfg.Name, cfg.Comparison)
	}
	return &Alarm{cfg: cfg, state: events.AlarmStateInsufficientData}, nil
}

// State returns the current state and since when it holds.
func (a *Alarm) State() (string, time.Time) { return a.state, a.since }

// Name returns the alarm name.
func (a *Alarm) Name() string { return a.cfg.Name }

func (a *Alarm) breaches(v float64) bool {
	if a.cfg.Comparison == LessThanThreshold {
		return v < a.cfg.Threshold
	}
	return v > a.cfg.Threshold
}

// Observe adds one datapoint at now and returns the state change event when the state
// changed, or nil. The alarm leaves INSUFFICIENT_DATA only once M datapoints are in, except
// that N breaching datapoints are enough to alarm (as CloudWatch evaluates missing data as
// "missing").
func (a *Alarm) Observe(v float64, now time.Time) *events.AlarmStateChangeEvent {
	a.points = append(a.points, v)
	if len(a.points) > a.cfg.EvaluationPeriods {
		a.points = a.points[len(a.points)-a.cfg.EvaluationPeriods:]
	}
	breaching := 0
	for _, p := range a.points {
		if a.breaches(p) {
			breaching++
		}
	}
	next := a.state
	switch {
	case breaching >= a.cfg.DatapointsToAlarm:
		next = events.AlarmStateAlarm
	case len(a.points) >= a.cfg.EvaluationPeriods:
		next = events.AlarmStateOK
	}
	if next == a.state {
		return nil
	}
	prev := events.AlarmState{Value: a.state, Reason: a.reason, Timestamp: stamp(a.since)}
	a.state, a.since = next, now
	a.reason = fmt.Sprintf("Threshold Crossed: %d out of the last %d datapoints of %s were %s the threshold (%g).",
		breaching, len(a.points), a.cfg.Metric, map[bool]string{true: "less than", false: "greater than"}[a.cfg.Comparison == LessThanThreshold], a.cfg.Threshold)
	if next == events.AlarmStateOK {
		a.reason = fmt.Sprintf("Threshold Crossed: %d out of the last %d datapoints of %s breached the threshold (%g).",
			breaching, len(a.points), a.cfg.Metric, a.cfg.Threshold)
	}
	reasonData, _ := json.Marshal(map[string]any{
		"version": "1.0", "queryDate": stamp(now), "statistic": "Average", "period": 0,
		"recentDatapoints": a.points, "threshold": a.cfg.Threshold, "evaluatedDatapoints": len(a.points),
	})
	ev := &events.AlarmStateChangeEvent{
		Envelope: events.Envelope{
			Version: "0", ID: fmt.Sprintf("local-%s-%d", a.cfg.Name, now.UnixNano()),
			DetailType: events.DetailTypeAlarmStateChange, Source: events.CloudWatchSource,
			AccountID: a.cfg.AccountID, Time: now.UTC().Truncate(time.Second), Region: a.cfg.Region,
			Resources: []string{fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s", a.cfg.Region, a.cfg.AccountID, a.cfg.Name)},
		},
		Detail: events.AlarmStateDetail{
			AlarmName:     a.cfg.Name,
			State:         events.AlarmState{Value: next, Reason: a.reason, ReasonData: string(reasonData), Timestamp: stamp(now)},
			PreviousState: prev,
			Configuration: events.AlarmConfiguration{Description: a.cfg.Description},
		},
	}
	return ev
}

func stamp(t time.Time) string {
	if t.IsZero() {
		t = time.Unix(0, 0)
	}
	return t.UTC().Format(events.AlarmTimeLayout)
}
