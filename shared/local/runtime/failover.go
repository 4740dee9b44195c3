package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3control"

	"github.com/mrap-engine/mrap/shared/failover"
	"github.com/mrap-engine/mrap/shared/health"
	"github.com/mrap-engine/mrap/shared/local/network"
	"github.com/mrap-engine/mrap/shared/local/routesapi"
	"github.com/mrap-engine/mrap/shared/mrap"
	"github.com/mrap-engine/mrap/shared/routing"
)

// AlarmPrefix starts the names of the local health alarms (see AlarmName).
const AlarmPrefix = "mrap-local-"

// decider is the failover function of one control Region: the engine's failover
// orchestration (read routes through the routes API adapter, read health, decide, submit,
// audit) over local ports: the alarms of every observer and the routes API, each reached
// through the link model from this Region, the state copy of every Region (DATA/state/<region>/,
// through the link model too) and an audit file. Calls are
// serialised, as reserved concurrency 1 does on AWS. It does nothing while its Region is out.
type decider struct {
	rt     *Runtime
	region string
	engine *failover.Engine

	mu     sync.Mutex // one evaluation at a time
	lastMu sync.Mutex
	last   decision
}

// decision is what a decider last did, for the status.
type decision struct {
	At        time.Time
	Reason    string
	Submitted bool
}

func newDecider(rt *Runtime, region string) (*decider, error) {
	base := routesapi.LoopbackHTTPClient()
	api := s3control.New(s3control.Options{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(rt.id.AccessKeyID, rt.id.SecretAccessKey, ""),
		HTTPClient:  &http.Client{Transport: rt.links.Transport(region, network.RoutesAPI, base.Transport)},
	})
	routes, err := mrap.New(api, mrap.Options{
		AccountID: rt.id.AccountID, ARN: rt.id.ARN(), Endpoint: rt.control,
		ControlRegions: []string{"us-east-1"}, AttemptTimeout: 5 * time.Second, Logger: rt.log,
	})
	if err != nil {
		return nil, err
	}
	d := &decider{rt: rt, region: region}
	d.engine, err = failover.New(routes, d, failover.StateCopies(rt.stateCopiesFrom(region)), failover.Options{
		Regions: rt.opts.Regions, Policy: rt.opts.Policy, Metrics: rt.metrics, Logger: rt.log, // the engine names the decider in every line
		Decider: region, Deciders: rt.opts.Deciders,
		// Three schedule periods, as on AWS (3m for a one-minute schedule); one machine's clock.
		LeaseTTL: 3 * rt.opts.ScheduleInterval, MaxSkew: 100 * time.Millisecond, ViewBound: rt.opts.ScheduleInterval,
		// Copies on one machine answer in milliseconds: a cut one costs 200 ms, not the link's hang.
		QuorumGrace: 200 * time.Millisecond,
		Notifier:    &auditFile{path: filepath.Join(rt.opts.DataDir, "audit.jsonl")},
	})
	if err != nil {
		return nil, err
	}
	if rec, ok := rt.mergedState().Records[region]; ok {
		d.last = decision{At: rec.LastDecision.Time, Reason: rec.LastDecision.Reason}
	}
	return d, nil
}

// Read implements failover.HealthReader: the quorum of the observers this decider's Region
// can read.
func (d *decider) Read(context.Context) (health.View, error) { return d.rt.healthFrom(d.region), nil }

// errDeciderOut is the answer of a decider whose Region is out.
var errDeciderOut = errors.New("the decider's Region is out")

// handle evaluates one EventBridge event.
func (d *decider) handle(ctx context.Context, raw []byte) (failover.Outcome, error) {
	return d.evaluate(ctx, func(ctx context.Context) (failover.Outcome, error) { return d.engine.HandleEvent(ctx, raw) })
}

// command applies an operator command under the policy's safety rules.
func (d *decider) command(ctx context.Context, c routing.Command, id string, at time.Time) (failover.Outcome, error) {
	tr := failover.CommandTrigger(c, id, at)
	return d.evaluate(ctx, func(ctx context.Context) (failover.Outcome, error) { return d.engine.Evaluate(ctx, tr) })
}

func (d *decider) evaluate(ctx context.Context, call func(context.Context) (failover.Outcome, error)) (failover.Outcome, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.rt.links.Running(d.region) {
		return failover.Outcome{Reason: "decider in " + d.region + " is out: nothing decided"}, errDeciderOut
	}
	out, err := call(ctx)
	if out.Reason != "" {
		d.lastMu.Lock()
		d.last = decision{At: time.Now(), Reason: out.Reason, Submitted: out.Submitted}
		d.lastMu.Unlock()
	}
	if out.Held {
		// Decide again when the cooldown ends (on AWS: the scheduled re-evaluation).
		wait := time.Until(d.rt.cooldownUntil()) + 50*time.Millisecond
		d.rt.after(wait, func(ctx context.Context) {
			tr := failover.Trigger{Kind: failover.TriggerSchedule, Summary: "re-evaluation at the end of the cooldown"}
			if _, err := d.evaluate(ctx, func(ctx context.Context) (failover.Outcome, error) { return d.engine.Evaluate(ctx, tr) }); err != nil {
				d.rt.log.Warn("failover re-evaluation", "decider", d.region, "err", err)
			}
		})
	}
	return out, err
}

// lastDecision returns what this decider last did.
func (d *decider) lastDecision() decision {
	d.lastMu.Lock()
	defer d.lastMu.Unlock()
	return d.last
}

// startDeciders builds the decider of every control Region.
func (rt *Runtime) startDeciders() error {
	for _, region := range rt.opts.Deciders {
		d, err := newDecider(rt, region)
		if err != nil {
			return fmt.Errorf("decider in %s: %w", region, err)
		}
		rt.deciders = append(rt.deciders, d)
	}
	return nil
}

// deliverEvent sends an event from Region `from` to the bus of every decider it can reach,
// each evaluated on its own (on AWS: one Lambda invocation per decider Region).
func (rt *Runtime) deliverEvent(ctx context.Context, from string, raw []byte) {
	for _, d := range rt.deciders {
		if err := rt.links.Reach(from, d.region); err != nil {
			continue
		}
		rt.wg.Add(1)
		go func() {
			defer rt.wg.Done()
			if _, err := d.handle(ctx, raw); err != nil && !errors.Is(err, errDeciderOut) {
				rt.log.Warn("failover", "decider", d.region, "err", err)
			}
		}()
	}
}

// busEvent delivers an event put on the default bus of region to that Region's decider (on
// AWS: the rules of its failover stack), evaluated on its own; an event for a Region
// without a decider, or whose decider is out, goes nowhere.
func (rt *Runtime) busEvent(region string, raw []byte) {
	for _, d := range rt.deciders {
		if d.region != region {
			continue
		}
		rt.wg.Add(1)
		go func() {
			defer rt.wg.Done()
			if _, err := d.handle(context.Background(), raw); err != nil && !errors.Is(err, errDeciderOut) {
				rt.log.Warn("failover", "decider", d.region, "err", err)
			}
		}()
	}
}

// command sends an operator command to every decider with one command id (as mrapctl
// sends one event to every decider Region's bus) and returns the outcome of the decider
// that applied it, else the first answer.
func (rt *Runtime) command(ctx context.Context, c routing.Command) (failover.Outcome, error) {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	id, at := "local-"+hex.EncodeToString(b), time.Now()
	type answer struct {
		out failover.Outcome
		err error
	}
	answers := make([]answer, len(rt.deciders))
	var wg sync.WaitGroup
	for i, d := range rt.deciders {
		wg.Go(func() {
			out, err := d.command(ctx, c, id, at)
			answers[i] = answer{out, err}
		})
	}
	wg.Wait()
	for _, a := range answers {
		if a.err == nil && a.out.Submitted {
			return a.out, nil
		}
	}
	for _, a := range answers {
		if !errors.Is(a.err, errDeciderOut) {
			return a.out, a.err
		}
	}
	return failover.Outcome{Reason: "every decider is out: command not applied"}, errors.New("no decider is running")
}

// cooldownUntil is when the next damped change may happen (zero: now), from the merged state.
func (rt *Runtime) cooldownUntil() time.Time {
	st := rt.mergedState()
	if st.LastChange.IsZero() {
		return time.Time{}
	}
	return st.LastChange.Add(rt.opts.Policy.Cooldown)
}

// mergedState is the operator's view of the failover state: failover.Merge over the
// decider records in the copy of every running Region, read directly (not through the link
// model, and never waiting on a decider), so the status answers while a decider is cut off.
func (rt *Runtime) mergedState() failover.State {
	var recs []failover.Record
	for _, r := range rt.opts.Regions {
		if !rt.links.Running(r) {
			continue
		}
		// What a copy holds is shown even when one of its records is corrupt.
		read, _ := failover.ReadRecords(context.Background(), rt.stateCopies[r], failover.DefaultPrefix, rt.opts.Deciders)
		recs = append(recs, read...)
	}
	return failover.Merge(recs)
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

// startSchedules re-evaluates every decider each ScheduleInterval (on AWS: an EventBridge
// schedule in each decider Region), so a decider acts on what it sees even when no alarm
// event reached it.
func (rt *Runtime) startSchedules(ctx context.Context) {
	for _, d := range rt.deciders {
		rt.wg.Add(1)
		go func() {
			defer rt.wg.Done()
			t := time.NewTicker(rt.opts.ScheduleInterval)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				tr := failover.Trigger{Kind: failover.TriggerSchedule, Summary: "scheduled re-evaluation"}
				_, err := d.evaluate(ctx, func(ctx context.Context) (failover.Outcome, error) { return d.engine.Evaluate(ctx, tr) })
				if err != nil && !errors.Is(err, errDeciderOut) && ctx.Err() == nil {
					rt.log.Warn("scheduled failover evaluation", "decider", d.region, "err", err)
				}
			}
		}()
	}
}
