package localrt

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3control"

	"github.com/mrap-engine/mrap/events"
	"github.com/mrap-engine/mrap/shared/mrap"
	"github.com/mrap-engine/mrap/shared/routesapi"
	"github.com/mrap-engine/mrap/shared/routing"
	"github.com/mrap-engine/mrap/shared/telemetry"
)

// AlarmPrefix starts the names of the local health alarms: {AlarmPrefix}{Region}-canary.
const AlarmPrefix = "mrap-local-"

// failover is the local failover function: it receives alarm state change events and
// operator commands, reads the routes through the routes API (the same adapter as on AWS),
// decides with the routing policy and submits the change.
type failover struct {
	rt     *Runtime
	routes mrap.RoutesAPI
	path   string // DATA/failover.json: overrides and the last change survive restarts
	audit  string // DATA/audit.jsonl

	mu     sync.Mutex
	health map[string]routing.RegionHealth
	state  failoverState
}

type failoverState struct {
	Overrides    routing.Overrides `json:"overrides"`
	LastChange   time.Time         `json:"last_change"`
	LastDecision string            `json:"last_decision"`
}

func newFailover(rt *Runtime) (*failover, error) {
	api := s3control.New(s3control.Options{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(rt.id.AccessKeyID, rt.id.SecretAccessKey, ""),
		HTTPClient:  routesapi.LoopbackHTTPClient(),
	})
	client, err := mrap.New(api, mrap.Options{
		AccountID: rt.id.AccountID, ARN: rt.id.ARN(), Endpoint: rt.control,
		ControlRegions: []string{"us-east-1"}, AttemptTimeout: 5 * time.Second, Logger: rt.log,
	})
	if err != nil {
		return nil, err
	}
	f := &failover{
		rt: rt, routes: client, health: map[string]routing.RegionHealth{},
		path: filepath.Join(rt.opts.DataDir, "failover.json"), audit: filepath.Join(rt.opts.DataDir, "audit.jsonl"),
	}
	if b, err := os.ReadFile(f.path); err == nil {
		_ = json.Unmarshal(b, &f.state)
	}
	return f, nil
}

// regionOfAlarm returns the Region named in a local alarm name.
func regionOfAlarm(name string, regions []string) string {
	rest := strings.TrimPrefix(name, AlarmPrefix)
	for _, r := range regions {
		if strings.HasPrefix(rest, r+"-") {
			return r
		}
	}
	return ""
}

// OnAlarm handles a "CloudWatch Alarm State Change" event.
func (f *failover) OnAlarm(ctx context.Context, raw []byte) (routing.Decision, error) {
	ev, err := events.ParseAlarmStateChange(raw)
	if err != nil {
		return routing.Decision{}, err
	}
	region := regionOfAlarm(ev.Detail.AlarmName, f.rt.opts.Regions)
	if region == "" {
		return routing.Decision{}, fmt.Errorf("alarm %s names no member Region", ev.Detail.AlarmName)
	}
	since, _ := ev.Detail.State.Time()
	f.mu.Lock()
	f.health[region] = routing.RegionHealth{State: routing.State(ev.Detail.State.Value), Since: since, Detail: ev.Detail.AlarmName}
	f.mu.Unlock()
	return f.decide(ctx, nil)
}

// Command applies an operator command under the policy's safety rules.
func (f *failover) Command(ctx context.Context, c routing.Command) (routing.Decision, error) {
	return f.decide(ctx, &c)
}

func (f *failover) decide(ctx context.Context, cmd *routing.Command) (routing.Decision, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	current, err := f.routes.GetRoutes(ctx)
	if err != nil {
		return routing.Decision{}, fmt.Errorf("read routes: %w", err)
	}
	health := make(map[string]routing.RegionHealth, len(f.health))
	for k, v := range f.health {
		health[k] = v
	}
	d := routing.Decide(routing.Input{
		Routes: mrap.Dials(current), Health: health, Policy: f.rt.opts.Policy,
		LastChange: f.state.LastChange, Now: time.Now(), Command: cmd, Overrides: f.state.Overrides,
	})
	if d.Err != nil {
		return d, d.Err
	}
	f.state.Overrides = d.Overrides
	f.state.LastDecision = d.Reason
	var submitErr error
	if d.Changed {
		if _, submitErr = f.routes.SubmitRoutes(ctx, current, d.Routes); submitErr == nil {
			f.state.LastChange = time.Now()
		}
	}
	f.save()
	f.record(d, cmd, submitErr)
	if d.Held {
		// Decide again when the cooldown ends (AWS: the scheduled re-evaluation).
		wait := time.Until(f.state.LastChange.Add(f.rt.opts.Policy.Cooldown)) + 50*time.Millisecond
		f.rt.after(wait, func(ctx context.Context) {
			if _, err := f.decide(ctx, nil); err != nil {
				f.rt.log.Warn("failover re-evaluation", "err", err)
			}
		})
	}
	changes := 0.0
	if d.Changed && submitErr == nil {
		changes = 1
	}
	outage := 0.0
	if d.TotalOutage {
		outage = 1
	}
	f.rt.metrics.Emit(nil,
		telemetry.Metric{Name: "Decisions", Unit: telemetry.Count, Value: 1},
		telemetry.Metric{Name: "RoutingChanges", Unit: telemetry.Count, Value: changes},
		telemetry.Metric{Name: "ActiveRegions", Unit: telemetry.Count, Value: float64(len(d.Active()))},
		telemetry.Metric{Name: "TotalOutage", Unit: telemetry.Count, Value: outage})
	if submitErr != nil {
		return d, fmt.Errorf("submit routes: %w", submitErr)
	}
	return d, nil
}

func (f *failover) save() {
	b, _ := json.MarshalIndent(f.state, "", "  ")
	if err := os.WriteFile(f.path, append(b, '\n'), 0o644); err != nil {
		f.rt.log.Warn("save failover state", "err", err)
	}
}

func (f *failover) record(d routing.Decision, cmd *routing.Command, err error) {
	entry := map[string]any{"time": time.Now().UTC(), "reason": d.Reason, "changed": d.Changed, "routes": d.Routes,
		"held": d.Held, "refused": d.Refused, "total_outage": d.TotalOutage}
	if cmd != nil {
		entry["command"] = cmd
	}
	if err != nil {
		entry["error"] = err.Error()
	}
	switch {
	case d.Changed || err != nil:
		f.rt.log.Info("routing changed", "reason", d.Reason, "routes", d.Routes, "err", err)
	case cmd != nil || d.Held || d.Refused:
		f.rt.log.Info("routing decision", "reason", d.Reason, "routes", d.Routes)
	default:
		f.rt.log.Debug("routing decision", "reason", d.Reason, "routes", d.Routes)
	}
	line, _ := json.Marshal(entry)
	fh, ferr := os.OpenFile(f.audit, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if ferr != nil {
		return
	}
	defer fh.Close()
	_, _ = fh.Write(append(line, '\n'))
}

// cooldownUntil is when the next automatic change may happen.
func (f *failover) cooldownUntil() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.state.LastChange.IsZero() {
		return time.Time{}
	}
	return f.state.LastChange.Add(f.rt.opts.Policy.Cooldown)
}

// snapshot returns a copy of the health and state.
func (f *failover) snapshot() (map[string]routing.RegionHealth, failoverState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := make(map[string]routing.RegionHealth, len(f.health))
	for k, v := range f.health {
		h[k] = v
	}
	return h, f.state
}
