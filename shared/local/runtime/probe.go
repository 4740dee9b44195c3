package runtime

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mrap-engine/mrap/events"
	"github.com/mrap-engine/mrap/shared/health"
	"github.com/mrap-engine/mrap/shared/local/alarmeval"
	"github.com/mrap-engine/mrap/shared/local/network"
	"github.com/mrap-engine/mrap/shared/routing"
)

// CanaryPrefix starts the keys the prober writes; the replicator leaves them alone.
const CanaryPrefix = health.DefaultCanaryPrefix

// AlarmName is the name of the health alarm of target as seen from observer, as on AWS
// (docs/contracts.md): {AlarmPrefix}{target}-from-{observer}-availability.
func AlarmName(target, observer string) string {
	return health.AlarmName(AlarmPrefix, target, observer)
}

// observer is the prober of one Region: it probes every other Region over the regional path
// (through the link model) and the access point through the global endpoint, and feeds one
// alarm per target, living in the observer's Region.
type observer struct {
	region string
	prober *health.Prober

	mu     sync.Mutex
	alarms map[string]*alarmeval.Alarm // target -> the alarm {target}-from-{observer}
	last   map[string]probeResult      // target or network.Global -> the last probe
}

// alarmState is one alarm's state as DescribeAlarms would return it.
type alarmState struct {
	Name  string
	State routing.State
	Since time.Time
}

// alarm returns the state of the alarm about target.
func (o *observer) alarm(target string) (alarmState, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	a, ok := o.alarms[target]
	if !ok {
		return alarmState{}, false
	}
	s, since := a.State()
	return alarmState{Name: a.Name(), State: routing.State(s), Since: since}, true
}

func (o *observer) lastProbe(target string) probeResult {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last[target]
}

// newObservers builds the prober and alarms of every Region.
func (rt *Runtime) newObservers() error {
	for _, obs := range rt.regions {
		o := &observer{region: obs.name, alarms: map[string]*alarmeval.Alarm{}, last: map[string]probeResult{}}
		var targets []health.Target
		for _, t := range rt.regions {
			if t.name == obs.name {
				continue
			}
			alarm, err := alarmeval.New(alarmeval.Config{
				Name: AlarmName(t.name, obs.name), Region: obs.name, AccountID: rt.id.AccountID,
				Description: "Canary availability of " + t.name + " seen from " + obs.name + " (local)", Metric: health.MetricAvailability,
				Threshold: 1, Comparison: alarmeval.LessThanThreshold,
				DatapointsToAlarm: rt.opts.AlarmDatapoints, EvaluationPeriods: rt.opts.AlarmPeriods,
			})
			if err != nil {
				return err
			}
			o.alarms[t.name] = alarm
			client := rt.s3Client(t.name, t.url, func(so *s3.Options) {
				so.Retryer = aws.NopRetryer{}
				so.HTTPClient = rt.links.Client(obs.name, t.name)
			})
			targets = append(targets, health.Target{Region: t.name, Path: health.PathRegional, Bucket: t.server.Bucket, Client: client})
		}
		global := rt.s3Client(obs.name, rt.global, func(so *s3.Options) {
			so.Retryer = aws.NopRetryer{}
			so.HTTPClient = &http.Client{Transport: rt.links.Transport(obs.name, network.Global, nil)}
		})
		targets = append(targets, health.Target{Region: network.Global, Path: health.PathGlobal, Bucket: rt.id.Alias, Client: global})
		var err error
		if o.prober, err = health.NewProber(targets, rt.metrics, health.ProberOptions{Prefix: CanaryPrefix, Timeout: rt.opts.ProbeTimeout, Observer: obs.name}); err != nil {
			return err
		}
		obs.observer = o
	}
	return nil
}

// startProbers runs every observer each ProbeInterval while its Region runs (an out Region
// probes nobody and its alarms evaluate nothing); alarm state changes travel as EventBridge
// events to the deciders the observer's Region can reach.
func (rt *Runtime) startProbers(ctx context.Context) {
	for _, r := range rt.regions {
		o := r.observer
		rt.wg.Add(1)
		go func() {
			defer rt.wg.Done()
			t := time.NewTicker(rt.opts.ProbeInterval)
			defer t.Stop()
			for {
				if rt.links.Running(o.region) {
					rt.probeOnce(ctx, o)
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	}
}

// probeOnce probes every target of one observer, records the results and feeds the alarms.
func (rt *Runtime) probeOnce(ctx context.Context, o *observer) {
	results := o.prober.Probe(ctx)
	if ctx.Err() != nil {
		return
	}
	now := time.Now()
	var changes []*events.AlarmStateChangeEvent
	o.mu.Lock()
	for _, res := range results {
		pr := probeResult{OK: res.OK, Latency: res.Latency, At: now}
		if res.Err != nil {
			pr.Err = res.Step + ": " + res.Err.Error()
		}
		o.last[res.Region] = pr
		a, ok := o.alarms[res.Region]
		if !ok || !rt.links.Running(o.region) { // the Region went out while probing
			continue
		}
		avail := 0.0
		if res.OK {
			avail = 1
		}
		if ev := a.Observe(avail, now); ev != nil {
			changes = append(changes, ev)
		}
	}
	o.mu.Unlock()
	for _, ev := range changes {
		rt.onAlarmEvent(ctx, o.region, ev)
	}
}

// onAlarmEvent forwards an alarm state change from the observer's Region to every decider
// it can reach (on AWS: a rule on the observer's bus targets every decider's bus).
func (rt *Runtime) onAlarmEvent(ctx context.Context, from string, ev *events.AlarmStateChangeEvent) {
	raw, _ := json.Marshal(ev)
	rt.log.Info("alarm state change", "alarm", ev.Detail.AlarmName, "state", ev.Detail.State.Value, "previous", ev.Detail.PreviousState.Value)
	rt.deliverEvent(ctx, from, raw)
	if ev.Detail.State.Value == events.AlarmStateOK && ev.Detail.PreviousState.Value == events.AlarmStateAlarm {
		if n, err := rt.bridge.Redrive(); err == nil && n > 0 {
			rt.log.Info("redriving replication dead letters after recovery", "region", ev.Region, "events", n)
		}
	}
}

// startRedriver replays dead-lettered replication events every interval while every Region
// is healthy, so a failure too short to raise an alarm is not left behind.
func (rt *Runtime) startRedriver(ctx context.Context, interval time.Duration) {
	rt.wg.Add(1)
	go func() {
		defer rt.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			healthy := true
			for _, h := range rt.healthView().Health {
				healthy = healthy && h.State == routing.OK
			}
			if !healthy {
				continue
			}
			if n, err := rt.bridge.Redrive(); err != nil {
				rt.log.Warn("redrive dead letters", "err", err)
			} else if n > 0 {
				rt.log.Info("redriving replication dead letters", "events", n)
			}
		}
	}()
}
