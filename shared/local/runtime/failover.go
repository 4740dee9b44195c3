package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3control"

	"github.com/mrap-engine/mrap/events"
	"github.com/mrap-engine/mrap/shared/failover"
	"github.com/mrap-engine/mrap/shared/local/routesapi"
	"github.com/mrap-engine/mrap/shared/mrap"
	"github.com/mrap-engine/mrap/shared/routing"
)

// AlarmPrefix starts the names of the local health alarms: {AlarmPrefix}{Region}-canary-availability.
const AlarmPrefix = "mrap-local-"

// failoverFn is the local failover function: the engine's failover orchestration (read
// routes through the routes API adapter, read health, decide, submit, audit) over local
// ports: the alarms of this runtime, a state file and an audit file. Calls are serialised,
// as reserved concurrency 1 does on AWS.
type failoverFn struct {
	rt     *Runtime
	engine *failover.Engine
	state  *fileState

	mu         sync.Mutex // one evaluation at a time
	healthMu   sync.Mutex
	health     map[string]routing.RegionHealth
	lastReason string
}

func newFailover(rt *Runtime) (*failoverFn, error) {
	api := s3control.New(s3control.Options{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(rt.id.AccessKeyID, rt.id.SecretAccessKey, ""),
		HTTPClient:  routesapi.LoopbackHTTPClient(),
	})
	routes, err := mrap.New(api, mrap.Options{
		AccountID: rt.id.AccountID, ARN: rt.id.ARN(), Endpoint: rt.control,
		ControlRegions: []string{"us-east-1"}, AttemptTimeout: 5 * time.Second, Logger: rt.log,
	})
	if err != nil {
		return nil, err
	}
	f := &failoverFn{rt: rt, health: map[string]routing.RegionHealth{},
		state: &fileState{path: filepath.Join(rt.opts.DataDir, "failover.json")}}
	st, err := f.state.Load(context.Background())
	if err != nil {
		return nil, err
	}
	f.lastReason = st.LastReason
	f.engine, err = failover.New(routes, f, f.state, failover.Options{
		Regions: rt.opts.Regions, Policy: rt.opts.Policy, Metrics: rt.metrics, Logger: rt.log,
		Notifier: &auditFile{path: filepath.Join(rt.opts.DataDir, "audit.jsonl")},
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Read implements failover.HealthReader over the local alarms.
func (f *failoverFn) Read(_ context.Context, regions []string) (map[string]routing.RegionHealth, error) {
	f.healthMu.Lock()
	defer f.healthMu.Unlock()
	out := make(map[string]routing.RegionHealth, len(regions))
	for _, r := range regions {
		if h, ok := f.health[r]; ok {
			out[r] = h
		} else {
			out[r] = routing.RegionHealth{State: routing.InsufficientData, Detail: "no probe evaluated yet"}
		}
	}
	return out, nil
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

// OnAlarm handles a "CloudWatch Alarm State Change" event: the alarm's state becomes the
// Region's health, then the failover function evaluates the event.
func (f *failoverFn) OnAlarm(ctx context.Context, raw []byte) (failover.Outcome, error) {
	ev, err := events.ParseAlarmStateChange(raw)
	if err != nil {
		return failover.Outcome{}, err
	}
	region := regionOfAlarm(ev.Detail.AlarmName, f.rt.opts.Regions)
	if region == "" {
		return failover.Outcome{}, fmt.Errorf("alarm %s names no member Region", ev.Detail.AlarmName)
	}
	since, _ := ev.Detail.State.Time()
	f.healthMu.Lock()
	f.health[region] = routing.RegionHealth{State: routing.State(ev.Detail.State.Value), Since: since, Detail: ev.Detail.AlarmName}
	f.healthMu.Unlock()
	return f.evaluate(ctx, func(ctx context.Context) (failover.Outcome, error) { return f.engine.HandleEvent(ctx, raw) })
}

// Command applies an operator command under the policy's safety rules.
func (f *failoverFn) Command(ctx context.Context, c routing.Command) (failover.Outcome, error) {
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	tr := failover.Trigger{Kind: failover.TriggerCommand, EventID: "local-" + hex.EncodeToString(id), Region: c.Region, Command: &c, Time: time.Now(),
		Summary: fmt.Sprintf("command %s %s by %s: %s", c.Action, c.Region, c.RequestedBy, c.Reason)}
	return f.evaluate(ctx, func(ctx context.Context) (failover.Outcome, error) { return f.engine.Evaluate(ctx, tr) })
}

func (f *failoverFn) evaluate(ctx context.Context, call func(context.Context) (failover.Outcome, error)) (failover.Outcome, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out, err := call(ctx)
	if out.Reason != "" {
		f.lastReason = out.Reason
	}
	if out.Held {
		// Decide again when the cooldown ends (on AWS: the scheduled re-evaluation).
		wait := time.Until(f.cooldownUntil()) + 50*time.Millisecond
		f.rt.after(wait, func(ctx context.Context) {
			tr := failover.Trigger{Kind: failover.TriggerSchedule, Summary: "re-evaluation at the end of the cooldown"}
			if _, err := f.evaluate(ctx, func(ctx context.Context) (failover.Outcome, error) { return f.engine.Evaluate(ctx, tr) }); err != nil {
				f.rt.log.Warn("failover re-evaluation", "err", err)
			}
		})
	}
	return out, err
}

// cooldownUntil is when the next automatic change may happen (zero: now).
func (f *failoverFn) cooldownUntil() time.Time {
	st, err := f.state.Load(context.Background())
	if err != nil || st.LastChange.IsZero() {
		return time.Time{}
	}
	return st.LastChange.Add(f.rt.opts.Policy.Cooldown)
}

// snapshot returns the health, the saved state and the last decision's reason.
func (f *failoverFn) snapshot() (map[string]routing.RegionHealth, failover.State, string) {
	h, _ := f.Read(context.Background(), f.rt.opts.Regions)
	st, _ := f.state.Load(context.Background())
	f.mu.Lock()
	defer f.mu.Unlock()
	return h, st, f.lastReason
}

// fileState keeps the failover function's state in DATA/failover.json.
type fileState struct {
	mu   sync.Mutex
	path string
}

// Load implements failover.StateStore.
func (s *fileState) Load(context.Context) (failover.State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var st failover.State
	b, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("read failover state: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("read failover state %s: %w (delete the file to start over)", s.path, err)
	}
	return st, nil
}

// Save implements failover.StateStore.
func (s *fileState) Save(_ context.Context, st failover.State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, _ := json.MarshalIndent(st, "", "  ")
	if err := os.WriteFile(s.path+".tmp", append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("save failover state: %w", err)
	}
	return os.Rename(s.path+".tmp", s.path)
}

// auditFile is the local audit topic: one JSON line per notification in DATA/audit.jsonl.
type auditFile struct {
	mu   sync.Mutex
	path string
}

// Notify implements failover.Notifier.
func (a *auditFile) Notify(_ context.Context, subject, message string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	line, _ := json.Marshal(map[string]any{"time": time.Now().UTC(), "subject": subject, "message": message})
	f, err := os.OpenFile(a.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.Write(append(line, '\n'))
	return err
}
