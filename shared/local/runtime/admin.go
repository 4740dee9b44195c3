package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/mrap-engine/mrap/shared/failover"
	"github.com/mrap-engine/mrap/shared/local/faults"
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
}

// RegionStatus is one Region of Status.
type RegionStatus struct {
	Region         string    `json:"region"`
	Bucket         string    `json:"bucket"`
	Endpoint       string    `json:"endpoint"`
	Dial           int       `json:"traffic_dial_percentage"`
	Alarm          string    `json:"alarm"`
	AlarmSince     time.Time `json:"alarm_since,omitzero"`
	Fault          string    `json:"fault"`
	ProbeOK        bool      `json:"probe_ok"`
	ProbeLatencyMs int64     `json:"probe_latency_ms"`
	ProbeError     string    `json:"probe_error,omitempty"`
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
	Ignored      int64 `json:"ignored"`
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
	Mode  string `json:"mode"`            // up, down, errors, slow
	Delay string `json:"delay,omitempty"` // Go duration for slow
}

// Status returns the current state.
func (rt *Runtime) Status() Status {
	health, st, lastReason := rt.failover.snapshot()
	bs := rt.bridge.Stats()
	s := Status{
		MRAPARN: rt.id.ARN(), GlobalEndpoint: rt.global, Overrides: st.Overrides, CooldownUntil: rt.failover.cooldownUntil(), LastChange: st.LastChange, LastDecision: lastReason,
		Replication: ReplicationStatus{Backlog: bs.Backlog, Received: bs.Received, Delivered: bs.Delivered, DeadLettered: bs.DeadLettered, Ignored: bs.Ignored},
	}
	for _, name := range rt.opts.Proximity {
		if d, _ := rt.table.Dial(name); d >= 100 {
			s.Serving = name
			break
		}
	}
	for _, r := range rt.regions {
		dial, _ := rt.table.Dial(r.name)
		r.probeMu.Lock()
		p := r.probe
		r.probeMu.Unlock()
		h := health[r.name]
		alarm := string(h.State)
		if alarm == "" {
			alarm = "INSUFFICIENT_DATA"
		}
		s.Regions = append(s.Regions, RegionStatus{
			Region: r.name, Bucket: r.server.Bucket, Endpoint: r.url, Dial: dial, Alarm: alarm, AlarmSince: h.Since,
			Fault: string(r.fault.Mode()), ProbeOK: p.OK, ProbeLatencyMs: p.Latency.Milliseconds(), ProbeError: p.Err,
			ReplicationLatency: replLatency(&rt.replLatency, r.name).Milliseconds(),
			ReplicationBacklog: bs.RegionBacklog[r.name],
		})
	}
	return s
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
	r.fault.Set(mode, delay)
	rt.log.Info("fault injected", "region", regionName, "mode", mode)
	return nil
}

// Command runs an operator command through the failover function.
func (rt *Runtime) Command(ctx context.Context, c routing.Command) (failover.Outcome, error) {
	if c.Region != "" && rt.region(c.Region) == nil {
		return failover.Outcome{}, fmt.Errorf("%q is not a Region of this deployment (%v)", c.Region, rt.opts.Regions)
	}
	return rt.failover.Command(ctx, c)
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
