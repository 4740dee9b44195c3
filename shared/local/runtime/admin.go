package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/mrap-engine/mrap/shared/failover"
	"github.com/mrap-engine/mrap/shared/health"
	"github.com/mrap-engine/mrap/shared/local/faults"
	"github.com/mrap-engine/mrap/shared/local/network"
	"github.com/mrap-engine/mrap/shared/routing"
)

// The runtime's admin API lives on the control endpoint next to the routes API. It is
// local-only and unauthenticated: it listens on the loopback interface.
const (
	PathStatus  = "/_mrap/status"
	PathFaults  = "/_mrap/faults/" // + Region
	PathCommand = "/_mrap/command"
	PathRedrive = "/_mrap/redrive"
)

// Status is the state of the local deployment, as `mrapctl status` shows it.
type Status struct {
	MRAPARN        string            `json:"mrap_arn"`
	GlobalEndpoint string            `json:"global_endpoint"`
	Serving        string            `json:"serving_region"` // where the global endpoint sends requests now
	Regions        []RegionStatus    `json:"regions"`
	Replication    ReplicationStatus `json:"replication"`
	Overrides      routing.Overrides `json:"overrides"`
	LastChange     time.Time         `json:"last_change,omitzero"`
	// CooldownUntil is when the next automatic routing change may happen.
	CooldownUntil time.Time `json:"cooldown_until,omitzero"`
	LastDecision  string    `json:"last_decision,omitempty"`
	// LastDecider is the control Region whose decider made the last routing change.
	LastDecider string `json:"last_decider,omitempty"`
	// Observations is the observer x target matrix: every Region's view of every other
	// Region (regional path, with its alarm) and of the global endpoint.
	Observations []ObservationStatus `json:"observations"`
	// Deciders are the failover deciders, one per control Region, in order.
	Deciders []DeciderStatus `json:"deciders"`
}

// ObservationStatus is one cell of the observer x target matrix.
type ObservationStatus struct {
	Observer string `json:"observer"`
	// Target is a Region (regional path) or "global" (the access point).
	Target string `json:"target"`
	Path   string `json:"path"`
	// Alarm is the state of {prefix}{target}-from-{observer}-availability (regional only);
	// "UNREADABLE" while the observer's Region is out.
	Alarm          string    `json:"alarm,omitempty"`
	AlarmSince     time.Time `json:"alarm_since,omitzero"`
	ProbeOK        bool      `json:"probe_ok"`
	ProbeLatencyMs int64     `json:"probe_latency_ms"`
	ProbeError     string    `json:"probe_error,omitempty"`
	ProbeAt        time.Time `json:"probe_at,omitzero"`
}

// DeciderStatus is one decider.
type DeciderStatus struct {
	Region string `json:"region"`
	// State is "running", "out" (its Region is out) or "isolated".
	State          string    `json:"state"`
	LastDecisionAt time.Time `json:"last_decision_at,omitzero"`
	LastDecision   string    `json:"last_decision,omitempty"`
}

// RegionStatus is one Region of Status.
type RegionStatus struct {
	Region     string    `json:"region"`
	Bucket     string    `json:"bucket"`
	Endpoint   string    `json:"endpoint"`
	Dial       int       `json:"traffic_dial_percentage"`
	Alarm      string    `json:"alarm"`
	AlarmSince time.Time `json:"alarm_since,omitzero"`
	// AlarmDetail is the quorum's reason: every observer's vote.
	AlarmDetail string `json:"alarm_detail,omitempty"`
	Fault       string `json:"fault"`
	// ProbeOK is true when every running observer's last probe of this Region succeeded.
	ProbeOK        bool   `json:"probe_ok"`
	ProbeLatencyMs int64  `json:"probe_latency_ms"` // the slowest observer's last probe
	ProbeError     string `json:"probe_error,omitempty"`
	// ReplicationBacklog counts this Region's object events waiting or being replicated.
	ReplicationBacklog int `json:"replication_backlog"`
	// ReplicationLatency is the last write from this Region: notification to copied everywhere.
	ReplicationLatency int64 `json:"replication_latency_ms"`
}

// ReplicationStatus are the notification bridge's counters.
type ReplicationStatus struct {
	Backlog      int   `json:"backlog"`
	Received     int64 `json:"received"`
	Delivered    int64 `json:"delivered"`
	DeadLettered int64 `json:"dead_lettered"`
	// DeadLetters are the events in the dead-letter file now (what `mrapctl redrive` would
	// replay); Redriven counts the events redriven since start, by the runtime or by redrive.
	DeadLetters int   `json:"dead_letters_waiting"`
	Redriven    int64 `json:"redriven"`
	Ignored     int64 `json:"ignored"`
}

// CommandRequest is the body of POST /_mrap/command.
type CommandRequest struct {
	Action string `json:"action"` // failover, failback, drain
	Region string `json:"region,omitempty"`
	Reason string `json:"reason,omitempty"`
	By     string `json:"requested_by,omitempty"`
}

// CommandResponse is the answer of POST /_mrap/command.
type CommandResponse struct {
	Changed bool           `json:"changed"`
	Refused bool           `json:"refused"`
	Held    bool           `json:"held"`
	Reason  string         `json:"reason"`
	Routes  map[string]int `json:"routes"`
	Error   string         `json:"error,omitempty"`
}

// FaultRequest is the body of POST /_mrap/faults/{region}.
type FaultRequest struct {
	Mode  string `json:"mode"`            // up, down, errors, slow, outage, isolate
	Delay string `json:"delay,omitempty"` // Go duration for slow
}

// Status returns the current state.
func (rt *Runtime) Status() Status {
	v := rt.healthView()
	bs := rt.bridge.Stats()
	st := rt.mergedState()
	s := Status{
		MRAPARN: rt.id.ARN(), GlobalEndpoint: rt.global, Overrides: st.Overrides, CooldownUntil: rt.cooldownUntil(), LastChange: st.LastChange,
		Replication: ReplicationStatus{Backlog: bs.Backlog, Received: bs.Received, Delivered: bs.Delivered, DeadLettered: bs.DeadLettered, DeadLetters: bs.DeadLetters, Redriven: bs.Redriven, Ignored: bs.Ignored},
	}
	s.LastDecider = st.LastChangeBy
	var latest time.Time
	for _, d := range rt.deciders {
		ld := d.lastDecision()
		state := "running"
		switch rt.links.State(d.region) {
		case network.Outage:
			state = "out"
		case network.Isolated:
			state = "isolated"
		}
		s.Deciders = append(s.Deciders, DeciderStatus{Region: d.region, State: state, LastDecisionAt: ld.At, LastDecision: ld.Reason})
		if !ld.At.Before(latest) && ld.Reason != "" {
			latest, s.LastDecision = ld.At, ld.Reason
		}
	}
	for _, name := range rt.opts.Proximity {
		if d, _ := rt.table.Dial(name); d >= 100 {
			s.Serving = name
			break
		}
	}
	s.Observations = rt.observationMatrix()
	for _, r := range rt.regions {
		dial, _ := rt.table.Dial(r.name)
		h := v.Health[r.name]
		rs := RegionStatus{
			Region: r.name, Bucket: r.server.Bucket, Endpoint: r.url, Dial: dial, Alarm: string(h.State), AlarmSince: h.Since, AlarmDetail: h.Detail,
			Fault: string(r.fault.Mode()), ProbeOK: true,
			ReplicationLatency: replLatency(&rt.replLatency, r.name).Milliseconds(),
			ReplicationBacklog: bs.RegionBacklog[r.name],
		}
		for _, o := range s.Observations {
			if o.Target != r.name || o.ProbeAt.IsZero() || !rt.links.Running(o.Observer) {
				continue
			}
			rs.ProbeLatencyMs = max(rs.ProbeLatencyMs, o.ProbeLatencyMs)
			if !o.ProbeOK {
				rs.ProbeOK = false
				if rs.ProbeError == "" {
					rs.ProbeError = "from " + o.Observer + ": " + o.ProbeError
				}
			}
		}
		if rs.Alarm == "" {
			rs.Alarm = string(routing.InsufficientData)
		}
		s.Regions = append(s.Regions, rs)
	}
	return s
}

// observationMatrix is every observer's last probe of every target and its alarm.
func (rt *Runtime) observationMatrix() []ObservationStatus {
	var out []ObservationStatus
	for _, obs := range rt.regions {
		o := obs.observer
		running := rt.links.Running(o.region)
		for _, t := range append(slices.Clone(rt.opts.Regions), network.Global) {
			if t == o.region {
				continue
			}
			p := o.lastProbe(t)
			cell := ObservationStatus{Observer: o.region, Target: t, Path: health.PathRegional,
				ProbeOK: p.OK, ProbeLatencyMs: p.Latency.Milliseconds(), ProbeError: p.Err, ProbeAt: p.At}
			if !running { // an out Region probes nothing: its last results are history
				cell.ProbeOK, cell.ProbeError = false, o.region+" is out"
			}
			if t == network.Global {
				cell.Path = health.PathGlobal
			} else if a, ok := o.alarm(t); ok {
				cell.Alarm, cell.AlarmSince = string(a.State), a.Since
				if !running {
					cell.Alarm = "UNREADABLE"
				}
			}
			out = append(out, cell)
		}
	}
	return out
}

func replLatency(m *sync.Map, region string) time.Duration {
	if v, ok := m.Load(region); ok {
		return v.(time.Duration)
	}
	return 0
}

// SetFault changes the fault injected in front of a Region.
func (rt *Runtime) SetFault(regionName string, mode faults.Mode, delay time.Duration) error {
	r := rt.region(regionName)
	if r == nil {
		return fmt.Errorf("%q is not a Region of this deployment (%v)", regionName, rt.opts.Regions)
	}
	link := network.Up
	switch mode {
	case faults.Outage:
		link = network.Outage
	case faults.Isolate:
		link = network.Isolated
	}
	if err := rt.links.Set(regionName, link); err != nil {
		return err
	}
	r.fault.Set(mode, delay)
	rt.log.Info("fault injected", "region", regionName, "mode", mode, "links", link)
	return nil
}

// Command runs an operator command through the failover function.
func (rt *Runtime) Command(ctx context.Context, c routing.Command) (failover.Outcome, error) {
	if c.Region != "" && rt.region(c.Region) == nil {
		return failover.Outcome{}, fmt.Errorf("%q is not a Region of this deployment (%v)", c.Region, rt.opts.Regions)
	}
	return rt.command(ctx, c)
}

func (rt *Runtime) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+PathStatus, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, rt.Status())
	})
	mux.HandleFunc("POST "+PathFaults+"{region}", func(w http.ResponseWriter, r *http.Request) {
		var req FaultRequest
		if err := decodeJSON(r, &req); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		mode, err := faults.ParseMode(req.Mode)
		var delay time.Duration
		if err == nil && req.Delay != "" {
			if delay, err = time.ParseDuration(req.Delay); err != nil || delay <= 0 {
				err = fmt.Errorf("delay %q is not a positive duration such as 2s", req.Delay)
			}
		}
		if err == nil {
			err = rt.SetFault(r.PathValue("region"), mode, delay)
		}
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"region": r.PathValue("region"), "mode": string(mode)})
	})
	mux.HandleFunc("POST "+PathCommand, func(w http.ResponseWriter, r *http.Request) {
		var req CommandRequest
		if err := decodeJSON(r, &req); err != nil {
			writeJSON(w, http.StatusBadRequest, CommandResponse{Error: err.Error()})
			return
		}
		c := routing.Command{Action: routing.Action(req.Action), Region: req.Region, Reason: req.Reason, RequestedBy: req.By}
		switch c.Action {
		case routing.Failover, routing.Drain:
			if c.Region == "" {
				writeJSON(w, http.StatusBadRequest, CommandResponse{Error: string(c.Action) + " needs a Region"})
				return
			}
		case routing.Failback:
		default:
			writeJSON(w, http.StatusBadRequest, CommandResponse{Error: fmt.Sprintf("action %q is not failover, failback or drain", req.Action)})
			return
		}
		d, err := rt.Command(r.Context(), c)
		resp := CommandResponse{Changed: d.Submitted, Refused: d.Refused, Held: d.Held, Reason: d.Reason, Routes: d.Routes}
		if d.Ignored {
			resp.Refused = true
		}
		status := http.StatusOK
		if err != nil {
			resp.Error, status = err.Error(), http.StatusBadRequest
		}
		writeJSON(w, status, resp)
	})
	mux.HandleFunc("POST "+PathRedrive, func(w http.ResponseWriter, r *http.Request) {
		n, err := rt.bridge.Redrive()
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"redriven": n})
	})
}

func decodeJSON(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("bad JSON body: %w", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
