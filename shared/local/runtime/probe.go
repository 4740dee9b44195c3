package runtime

import (
	"context"
	"encoding/json"
	"time"

	"github.com/mrap-engine/mrap/events"
	"github.com/mrap-engine/mrap/shared/health"
	"github.com/mrap-engine/mrap/shared/local/alarmeval"
)

// CanaryPrefix starts the keys the prober writes; the replicator leaves them alone.
const CanaryPrefix = health.DefaultCanaryPrefix

// startProber probes every Region each ProbeInterval and feeds the result to the Region's
// alarm; alarm state changes go to the failover function as EventBridge events.
func (rt *Runtime) startProber(ctx context.Context) {
	for _, r := range rt.regions {
		alarm, err := alarmeval.New(alarmeval.Config{
			Name: AlarmPrefix + r.name + "-canary-availability", Region: r.name, AccountID: rt.id.AccountID,
			Description: "Canary availability of " + r.name + " (local)", Metric: "CanaryAvailability",
			Threshold: 1, Comparison: alarmeval.LessThanThreshold,
			DatapointsToAlarm: rt.opts.AlarmDatapoints, EvaluationPeriods: rt.opts.AlarmPeriods,
		})
		if err != nil {
			rt.log.Error("alarm", "err", err)
			continue
		}
		r.prober, err = health.NewProber([]health.Target{{Region: r.name, Path: health.PathRegional, Bucket: r.server.Bucket, Client: r.client}},
			rt.metrics, health.ProberOptions{Prefix: CanaryPrefix, Timeout: rt.opts.ProbeTimeout})
		if err != nil {
			rt.log.Error("prober", "err", err)
			continue
		}
		rt.wg.Add(1)
		go func() {
			defer rt.wg.Done()
			t := time.NewTicker(rt.opts.ProbeInterval)
			defer t.Stop()
			for {
				res := rt.probeOnce(ctx, r)
				if ctx.Err() != nil {
					return
				}
				avail := 0.0
				if res.OK {
					avail = 1
				}
				if ev := alarm.Observe(avail, time.Now()); ev != nil {
					rt.onAlarmEvent(ctx, ev)
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

func (rt *Runtime) onAlarmEvent(ctx context.Context, ev *events.AlarmStateChangeEvent) {
	raw, _ := json.Marshal(ev)
	rt.log.Info("alarm state change", "alarm", ev.Detail.AlarmName, "state", ev.Detail.State.Value, "previous", ev.Detail.PreviousState.Value)
	if _, err := rt.failover.OnAlarm(ctx, raw); err != nil {
		rt.log.Warn("failover", "err", err)
	}
	if ev.Detail.State.Value == events.AlarmStateOK && ev.Detail.PreviousState.Value == events.AlarmStateAlarm {
		if n, err := rt.bridge.Redrive(); err == nil && n > 0 {
			rt.log.Info("redriving replication dead letters after recovery", "region", ev.Region, "events", n)
		}
	}
}

// probeOnce runs the engine's canary prober against one Region's endpoint.
func (rt *Runtime) probeOnce(ctx context.Context, r *region) probeResult {
	res := r.prober.Probe(ctx)[0]
	out := probeResult{OK: res.OK, Latency: res.Latency, At: time.Now()}
	if res.Err != nil {
		out.Err = res.Step + ": " + res.Err.Error()
	}
	r.probeMu.Lock()
	r.probe = out
	r.probeMu.Unlock()
	return out
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
			health, _ := rt.failover.Read(ctx, rt.opts.Regions)
			healthy := true
			for _, h := range health {
				healthy = healthy && h.State == "OK"
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
