package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mrap-engine/mrap/shared/local/drill"
	"github.com/mrap-engine/mrap/shared/local/faults"
	"github.com/mrap-engine/mrap/shared/local/runtime"
)

// local talks to a running local runtime through its control endpoint.
type local struct {
	ep   runtime.Endpoints
	http *http.Client
}

func openLocal(data string) (*local, error) {
	ep, err := runtime.ReadEndpoints(data)
	if err != nil {
		return nil, err
	}
	return &local{ep: ep, http: &http.Client{Timeout: 30 * time.Second}}, nil
}

func (l *local) do(ctx context.Context, method, path string, body, out any) error {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, l.ep.ControlEndpoint+path, r)
	if err != nil {
		return err
	}
	resp, err := l.http.Do(req)
	if err != nil {
		return fmt.Errorf("the local runtime does not answer at %s (is `mrapctl up` still running?): %w", l.ep.ControlEndpoint, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		_ = json.Unmarshal(raw, out)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s", e.Error)
		}
		return fmt.Errorf("%s %s: %s", method, path, strings.TrimSpace(string(raw)))
	}
	return nil
}

func (l *local) status(ctx context.Context) (runtime.Status, error) {
	var st runtime.Status
	err := l.do(ctx, http.MethodGet, runtime.PathStatus, nil, &st)
	return st, err
}

func printLocalStatus(w io.Writer, st runtime.Status) {
	fmt.Fprintf(w, "access point %s\nglobal endpoint %s serving from %s\n\n", st.MRAPARN, st.GlobalEndpoint, orDash(st.Serving))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tDIAL\tHEALTH\tFAULT\tPROBES\tBACKLOG\tREPL. LATENCY\tBUCKET\tENDPOINT")
	for _, r := range st.Regions {
		probe := fmt.Sprintf("ok %dms", r.ProbeLatencyMs)
		if !r.ProbeOK {
			probe = "FAIL"
		}
		repl := "-"
		if r.ReplicationLatency > 0 {
			repl = fmt.Sprintf("%dms", r.ReplicationLatency)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", r.Region, r.Dial, r.Alarm, r.Fault, probe, r.ReplicationBacklog, repl, r.Bucket, r.Endpoint)
	}
	tw.Flush()
	printMatrix(w, st)
	if len(st.Deciders) > 0 {
		fmt.Fprintln(w, "\ndeciders (control Regions, in order):")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, d := range st.Deciders {
			at := "-"
			if !d.LastDecisionAt.IsZero() {
				at = d.LastDecisionAt.UTC().Format(time.TimeOnly)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", d.Region, d.State, at, orDash(d.LastDecision))
		}
		tw.Flush()
	}
	rs := st.Replication
	fmt.Fprintf(w, "\nreplication: backlog %d, %d events received, %d delivered, %d ignored; dead letters: %d waiting (%d this run, %d redriven)\n",
		rs.Backlog, rs.Received, rs.Delivered, rs.Ignored, rs.DeadLetters, rs.DeadLettered, rs.Redriven)
	if st.Overrides.Pinned != "" || len(st.Overrides.Drained) > 0 {
		fmt.Fprintf(w, "overrides: pinned %s, drained %s (clear with `mrapctl failback`)\n", orDash(st.Overrides.Pinned), orDash(strings.Join(st.Overrides.Drained, ",")))
	}
	if st.LastDecision != "" {
		fmt.Fprintf(w, "last decision: %s\n", st.LastDecision)
	}
	if st.LastDecider != "" {
		fmt.Fprintf(w, "last routing change made by the decider in %s\n", st.LastDecider)
	}
}

// printMatrix prints the observer x target matrix: each observer's alarm about each target
// (regional path) and its last probe of the global endpoint.
func printMatrix(w io.Writer, st runtime.Status) {
	if len(st.Observations) == 0 {
		return
	}
	var targets []string
	for _, r := range st.Regions {
		targets = append(targets, r.Region)
	}
	targets = append(targets, "global")
	cells := map[[2]string]runtime.ObservationStatus{}
	var observers []string
	for _, o := range st.Observations {
		if len(observers) == 0 || observers[len(observers)-1] != o.Observer {
			observers = append(observers, o.Observer)
		}
		cells[[2]string{o.Observer, o.Target}] = o
	}
	fmt.Fprintln(w, "\nobserver x target (alarm of the regional probe; global: the last probe through the access point):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "  FROM \\ TO")
	for _, t := range targets {
		fmt.Fprintf(tw, "\t%s", t)
	}
	fmt.Fprintln(tw)
	for _, o := range observers {
		fmt.Fprintf(tw, "  %s", o)
		for _, t := range targets {
			c, ok := cells[[2]string{o, t}]
			switch {
			case !ok:
				fmt.Fprint(tw, "\t-")
			case t == "global" && strings.HasSuffix(c.ProbeError, " is out"):
				fmt.Fprint(tw, "\tOUT")
			case t == "global" && c.ProbeAt.IsZero():
				fmt.Fprint(tw, "\tno probe")
			case t == "global" && c.ProbeOK:
				fmt.Fprintf(tw, "\tok %dms", c.ProbeLatencyMs)
			case t == "global":
				fmt.Fprint(tw, "\tFAIL")
			default:
				fmt.Fprintf(tw, "\t%s", c.Alarm)
			}
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func cmdFault(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("fault", "fault [flags] REGION down|errors|slow|outage|isolate|up", stderr)
	data := fs.String("data", ".local", "data folder of the local runtime")
	delay := fs.Duration("delay", faults.DefaultDelay, "added latency of the slow fault")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		fs.Usage()
		return fmt.Errorf("want a Region and a fault (down, errors, slow, outage, isolate or up), got %q", strings.Join(pos, " "))
	}
	if _, err := faults.ParseMode(pos[1]); err != nil {
		return err
	}
	l, err := openLocal(*data)
	if err != nil {
		return err
	}
	req := runtime.FaultRequest{Mode: pos[1]}
	if pos[1] == string(faults.Slow) {
		req.Delay = delay.String()
	}
	if err := l.do(ctx, http.MethodPost, runtime.PathFaults+pos[0], req, nil); err != nil {
		return err
	}
	what := map[string]string{
		"down": "connections are reset", "errors": "every request gets 503 SlowDown",
		"slow": "every request waits " + delay.String(), "up": "requests pass through again, every link restored",
		"outage":  "everything of the Region stops (S3, probes, alarms, decider, state copy); nobody reaches it",
		"isolate": "the Region serves its own clients but no link to or from the other Regions",
	}[pos[1]]
	fmt.Fprintf(stdout, "%s: %s (watch it with `mrapctl status`)\n", pos[0], what)
	return nil
}

func cmdDrill(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("drill", "drill [flags]", stderr)
	data := fs.String("data", ".local", "data folder of the local runtime")
	region := fs.String("region", "", "Region to fail (default: the one the global endpoint serves from)")
	fault := fs.String("fault", "down", "fault to inject: down, errors, slow, outage or isolate")
	jsonOut := fs.Bool("json", false, "print the report as JSON after the timeline")
	b := drill.DefaultBounds
	fs.DurationVar(&b.Replication, "bound-replication", b.Replication, "most time for a write to reach every Region")
	fs.DurationVar(&b.Detection, "bound-detection", b.Detection, "most time from fault to alarm")
	fs.DurationVar(&b.RoutesFlip, "bound-flip", b.RoutesFlip, "most time from fault to routes changed")
	fs.DurationVar(&b.Traffic, "bound-traffic", b.Traffic, "most time from fault to the first request served elsewhere")
	fs.DurationVar(&b.Recovery, "bound-recovery", b.Recovery, "most time from fault removed to alarm OK")
	fs.DurationVar(&b.Failback, "bound-failback", b.Failback, "most time from failback to traffic back")
	fs.DurationVar(&b.CatchUp, "bound-catchup", b.CatchUp, "most time for outage writes to reach the recovered Region")
	fs.IntVar(&b.ErrorsAfterFlip, "max-errors-after-flip", b.ErrorsAfterFlip, "client errors allowed once traffic moved")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if _, err := faults.ParseMode(*fault); err != nil || *fault == "up" {
		return fmt.Errorf("--fault %q: want down, errors, slow, outage or isolate", *fault)
	}
	for name, d := range map[string]time.Duration{"bound-replication": b.Replication, "bound-detection": b.Detection, "bound-flip": b.RoutesFlip,
		"bound-traffic": b.Traffic, "bound-recovery": b.Recovery, "bound-failback": b.Failback, "bound-catchup": b.CatchUp} {
		if d <= 0 {
			return fmt.Errorf("--%s %s: want a positive duration", name, d)
		}
	}
	if b.ErrorsAfterFlip < 0 {
		return fmt.Errorf("--max-errors-after-flip %d: want 0 or more", b.ErrorsAfterFlip)
	}
	l, err := openLocal(*data)
	if err != nil {
		return err
	}
	if err := drill.CheckRegion(l.ep, *region); err != nil {
		return fmt.Errorf("--region: %w", err)
	}
	fmt.Fprintln(stdout, "drill: timeline (each step against its bound)")
	again := self() + " failback"
	if *data != ".local" {
		again += " --data " + *data
	}
	// On an error or Ctrl-C the drill removes its fault itself and says what it left.
	rep, err := drill.Run(ctx, l.ep, drill.Options{Bounds: b, Region: *region, Fault: *fault, Out: stdout, Failback: again})
	if errors.Is(err, drill.ErrInterrupted) {
		fmt.Fprintln(stdout, "interrupted")
		return exitCode(130)
	}
	if err != nil {
		return fmt.Errorf("drill stopped: %w", err)
	}
	fmt.Fprintf(stdout, "\nclient: %d requests, %d errors (%d after traffic moved, %d after failback)\n", rep.ClientRequests, rep.ClientErrors, rep.ErrorsAfterFlip, rep.ErrorsAfterFailback)
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	}
	if !rep.Passed() {
		return exitCode(1)
	}
	return nil
}
