// Package drill is the scripted game day against a running local deployment: write through
// the global endpoint and see it replicated, fail the serving Region, watch the alarm fire
// and the routes flip while a client keeps reading and writing, recover, fail back, and
// check that the writes made during the outage reached the recovered Region. Every step has
// a bound; the report says which were missed.
package drill

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mrap-engine/mrap/shared/local/globalendpoint"
	"github.com/mrap-engine/mrap/shared/local/runtime"
	"github.com/mrap-engine/mrap/shared/s3store"
)

// Bounds are the most each step may take.
type Bounds struct {
	Replication time.Duration // a write through the global endpoint is in every other Region
	Detection   time.Duration // fault injected -> alarm in ALARM
	RoutesFlip  time.Duration // fault injected -> routes give the failed Region dial 0
	Traffic     time.Duration // fault injected -> first client request served elsewhere
	Recovery    time.Duration // fault removed -> alarm OK
	Failback    time.Duration // failback command -> traffic back in the Region
	CatchUp     time.Duration // failback -> writes made during the outage are in the Region
	// ErrorsAfterFlip is the most client errors allowed once traffic moved.
	ErrorsAfterFlip int
}

// DefaultBounds suit the default local runtime (1s probes, 2 of 3 datapoints).
var DefaultBounds = Bounds{
	Replication: 10 * time.Second, Detection: 15 * time.Second, RoutesFlip: 20 * time.Second,
	Traffic: 20 * time.Second, Recovery: 20 * time.Second, Failback: 10 * time.Second, CatchUp: 60 * time.Second,
}

// Options configure a drill.
type Options struct {
	Bounds Bounds
	// Region to fail; empty: the Region the global endpoint serves from.
	Region string
	// Fault is the fault to inject (default "down"): down, errors, slow, outage or isolate.
	Fault string
	// Out receives the timeline as it happens (default: discard).
	Out io.Writer
	// Poll is the status polling interval (default 100ms).
	Poll time.Duration
	// Failback is the command that restores the routes, printed when a drill stops early
	// (default "mrapctl failback").
	Failback string
}

// ErrInterrupted is returned when the drill's context ends (Ctrl-C, SIGTERM) before it does.
var ErrInterrupted = errors.New("interrupted")

// Step is one line of the timeline.
type Step struct {
	Name  string        `json:"name"`
	Took  time.Duration `json:"took_ns"`
	Bound time.Duration `json:"bound_ns"`
	OK    bool          `json:"ok"`
	Note  string        `json:"note,omitempty"`
	// Count and MaxCount replace Took and Bound in a step that counts (client errors).
	Count    int `json:"count,omitempty"`
	MaxCount int `json:"max_count,omitempty"`
}

// Report is the outcome of a drill.
type Report struct {
	Region string `json:"region"`
	Fault  string `json:"fault"`
	Steps  []Step `json:"steps"`
	// Decider is the control Region whose decider made the routing change.
	Decider        string `json:"decider,omitempty"`
	ClientRequests int    `json:"client_requests"`
	ClientErrors   int    `json:"client_errors"`
	// ErrorsAfterFlip counts client errors from the moment traffic moved until the fault is
	// removed: the window in which the new Region alone serves the client.
	ErrorsAfterFlip int `json:"client_errors_after_traffic_moved"`
	// ErrorsAfterFailback counts client errors after the failback command: typically a read of
	// a write made during the outage that has not replicated back yet (replication is
	// asynchronous, on AWS as here). Reported, not bounded.
	ErrorsAfterFailback int `json:"client_errors_after_failback"`
}

// Passed reports whether every step kept its bound.
func (r Report) Passed() bool {
	for _, s := range r.Steps {
		if !s.OK {
			return false
		}
	}
	return true
}

type runner struct {
	ep     runtime.Endpoints
	opts   Options
	http   *http.Client
	global *s3.Client
	rep    Report
	out    io.Writer
	start  time.Time
	ctx    context.Context
	// injected is the Region holding the drill's fault, until the drill removes it.
	injected string
}

// Run performs the drill against the deployment described by ep. Arguments are checked
// before any waiting. When the drill stops early (an error, or ctx ending: ErrInterrupted)
// it removes the fault it injected and prints the state it leaves and the command that
// restores the routes; steps it never measured are not reported.
func Run(ctx context.Context, ep runtime.Endpoints, opts Options) (Report, error) {
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.Poll <= 0 {
		opts.Poll = 100 * time.Millisecond
	}
	if opts.Fault == "" {
		opts.Fault = "down"
	}
	if opts.Bounds == (Bounds{}) {
		opts.Bounds = DefaultBounds
	}
	if opts.Failback == "" {
		opts.Failback = "mrapctl failback"
	}
	r := &runner{ep: ep, opts: opts, out: opts.Out, http: &http.Client{Timeout: 10 * time.Second}, start: time.Now(), ctx: ctx}
	r.rep.Fault = opts.Fault
	if err := CheckRegion(ep, opts.Region); err != nil {
		return r.rep, err
	}
	r.global = r.s3(ep.GlobalEndpoint, "us-east-1", aws.NopRetryer{})
	err := r.run(ctx)
	if ctx.Err() != nil {
		err = ErrInterrupted
	}
	if err != nil && (r.rep.Region != "" || errors.Is(err, ErrInterrupted)) {
		r.restore()
	}
	return r.rep, err
}

// CheckRegion reports an error when region is set and not a Region of the deployment.
func CheckRegion(ep runtime.Endpoints, region string) error {
	if region == "" || slices.ContainsFunc(ep.Regions, func(re runtime.RegionEndpoint) bool { return re.Region == region }) {
		return nil
	}
	var names []string
	for _, re := range ep.Regions {
		names = append(names, re.Region)
	}
	return fmt.Errorf("%q is not a Region of the deployment (its Regions: %s)", region, strings.Join(names, ", "))
}

// restore removes the drill's fault and says what state the deployment is left in. It runs
// after ctx ended, so it has its own short deadline.
func (r *runner) restore() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r.ctx = ctx
	if t := r.injected; t != "" {
		if err := r.post(ctx, runtime.PathFaults+t, runtime.FaultRequest{Mode: "up"}); err != nil {
			r.logf("could not remove the fault %q from %s (%v); run: mrapctl fault %s up", r.opts.Fault, t, err, t)
		} else {
			r.injected = ""
			r.logf("removed the fault %q from %s", r.opts.Fault, t)
		}
	}
	st, err := r.status(ctx)
	if err != nil {
		r.logf("state left: unknown (%v); see: mrapctl status", err)
		return
	}
	var dials, out []string
	for _, rs := range st.Regions {
		dials = append(dials, fmt.Sprintf("%s %d", rs.Region, rs.Dial))
		if rs.Dial == 0 {
			out = append(out, rs.Region)
		}
	}
	r.logf("state left: traffic dials %s", strings.Join(dials, ", "))
	if len(out) > 0 || !st.Overrides.IsZero() {
		r.logf("to restore the routes, run: %s   (it waits for %s to be healthy first)", r.opts.Failback, strings.Join(out, ", "))
	}
}

func (r *runner) s3(endpoint, region string, retryer aws.Retryer) *s3.Client {
	return s3store.NewClient(s3store.StaticConfig(r.ep.AccessKeyID, r.ep.SecretAccessKey), region, endpoint, func(o *s3.Options) {
		o.Retryer, o.HTTPClient = retryer, &http.Client{Timeout: 5 * time.Second}
	})
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.out, "[%6.2fs] %s\n", time.Since(r.start).Seconds(), fmt.Sprintf(format, args...))
}

// step records and prints one measured step; a step cut short by ctx ending was not
// measured and is neither.
func (r *runner) step(name string, took, bound time.Duration, ok bool, note string) {
	if r.ctx.Err() != nil {
		return
	}
	ok = ok && took <= bound
	r.rep.Steps = append(r.rep.Steps, Step{Name: name, Took: took, Bound: bound, OK: ok, Note: note})
	mark := "ok  "
	if !ok {
		mark = "MISS"
	}
	r.logf("%s %-34s %8s (bound %s) %s", mark, name, took.Round(time.Millisecond), bound, note)
}

// countStep records and prints a step that counts (errors) against a most.
func (r *runner) countStep(name string, count, most int, ok bool, note string) {
	if r.ctx.Err() != nil {
		return
	}
	ok = ok && count <= most
	r.rep.Steps = append(r.rep.Steps, Step{Name: name, Count: count, MaxCount: most, OK: ok, Note: note})
	mark := "ok  "
	if !ok {
		mark = "MISS"
	}
	r.logf("%s %-34s %8d (most %d) %s", mark, name, count, most, note)
}

func (r *runner) status(ctx context.Context) (runtime.Status, error) {
	var st runtime.Status
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.ep.ControlEndpoint+runtime.PathStatus, nil)
	resp, err := r.http.Do(req)
	if err != nil {
		if ctx.Err() != nil { // stopped, not a runtime that does not answer
			return st, ctx.Err()
		}
		return st, fmt.Errorf("local runtime not answering at %s: %w", r.ep.ControlEndpoint, err)
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

func (r *runner) post(ctx context.Context, path string, body any) error {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, r.ep.ControlEndpoint+path, bytes.NewReader(b))
	resp, err := r.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", path, strings.TrimSpace(string(msg)))
	}
	var cr runtime.CommandResponse
	if json.Unmarshal(msg, &cr) == nil && cr.Refused {
		return fmt.Errorf("refused: %s", cr.Reason)
	}
	return nil
}

// waitFor polls cond until it holds or limit passes; it returns the time waited.
func (r *runner) waitFor(ctx context.Context, limit time.Duration, cond func(runtime.Status) bool) (time.Duration, bool) {
	start := time.Now()
	for {
		st, err := r.status(ctx)
		if err == nil && cond(st) {
			return time.Since(start), true
		}
		if time.Since(start) > limit || ctx.Err() != nil {
			return time.Since(start), false
		}
		select {
		case <-ctx.Done():
			return time.Since(start), false
		case <-time.After(r.opts.Poll):
		}
	}
}

func regionOf(st runtime.Status, name string) runtime.RegionStatus {
	for _, rs := range st.Regions {
		if rs.Region == name {
			return rs
		}
	}
	return runtime.RegionStatus{}
}

// run is the drill: preflight, replication, fault and failover, recovery and failback,
// catch-up. Each step records itself against its bound.
func (r *runner) run(ctx context.Context) error {
	st, err := r.preflight(ctx)
	if err != nil {
		return err
	}
	target := r.opts.Region
	if target == "" {
		target = st.Serving
	}
	if regionOf(st, target).Region == "" {
		return fmt.Errorf("%q is not a Region of the deployment", target)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	r.rep.Region = target
	r.logf("drill against %s with fault %q (global endpoint %s)", target, r.opts.Fault, r.ep.GlobalEndpoint)
	prefix := fmt.Sprintf("drill/%d/", time.Now().UnixNano())
	if err := r.replicationStep(ctx, prefix); err != nil {
		return err
	}
	// A client keeps writing and reading through the global endpoint from here on.
	load := r.startLoad(ctx, prefix+"load/")
	defer load.stop()
	// The global endpoint serves from the target only when it is the closest active Region;
	// otherwise traffic never was there and the client must simply keep working.
	serving := target == st.Serving
	if err := r.failStep(ctx, target, serving, load); err != nil {
		return err
	}
	if err := r.recoverStep(ctx, target, serving, load); err != nil {
		return err
	}
	r.catchUpStep(ctx, target, load)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if r.rep.Passed() {
		r.logf("drill passed")
	} else {
		r.logf("drill FAILED: a step missed its bound")
	}
	return nil
}

// preflight waits for every Region healthy and active with no override in force, then for
// the cooldown of the last change to end.
func (r *runner) preflight(ctx context.Context) (runtime.Status, error) {
	r.logf("preflight: waiting for every Region to be healthy and active")
	ready := func(rs runtime.RegionStatus) bool { return rs.Alarm == "OK" && rs.Dial == 100 && rs.Fault == "up" }
	if _, ok := r.waitFor(ctx, 30*time.Second, func(st runtime.Status) bool {
		for _, rs := range st.Regions {
			if !ready(rs) {
				return false
			}
		}
		return st.Overrides.IsZero()
	}); !ok {
		st, err := r.status(ctx)
		if err != nil {
			return st, err
		}
		var bad []string
		for _, rs := range st.Regions {
			if !ready(rs) {
				bad = append(bad, fmt.Sprintf("%s (dial %d, alarm %s, fault %s)", rs.Region, rs.Dial, rs.Alarm, rs.Fault))
			}
		}
		if !st.Overrides.IsZero() {
			bad = append(bad, fmt.Sprintf("overrides in force (pinned %q, drained %v)", st.Overrides.Pinned, st.Overrides.Drained))
		}
		return st, fmt.Errorf("preflight: a drill starts from every Region healthy and active, but: %s; `mrapctl fault REGION up` and `mrapctl failback` restore that",
			strings.Join(bad, "; "))
	}
	st, err := r.status(ctx)
	if err != nil {
		return st, err
	}
	if wait := time.Until(st.CooldownUntil); wait > 0 {
		r.logf("waiting %s for the routing cooldown of the last change to end", wait.Round(time.Second))
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(wait):
		}
	}
	return st, nil
}

// replicationStep writes through the global endpoint and waits for the write everywhere.
func (r *runner) replicationStep(ctx context.Context, prefix string) error {
	body := []byte("written through the global endpoint at " + time.Now().UTC().Format(time.RFC3339Nano))
	if _, err := r.global.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(r.ep.MRAPAlias), Key: aws.String(prefix + "first"), Body: bytes.NewReader(body)}); err != nil {
		return fmt.Errorf("write through the global endpoint: %w", err)
	}
	took, ok := r.replicated(ctx, prefix+"first", body, "", r.opts.Bounds.Replication)
	r.step("replication to every Region", took, r.opts.Bounds.Replication, ok, "")
	return ctx.Err()
}

// failStep injects the fault and times detection, the routes flip and the traffic move.
func (r *runner) failStep(ctx context.Context, target string, serving bool, load *load) error {
	b := r.opts.Bounds
	r.logf("injecting fault %q in %s", r.opts.Fault, target)
	r.injected = target // before the call: a call cut short may still have applied it
	if err := r.post(ctx, runtime.PathFaults+target, runtime.FaultRequest{Mode: r.opts.Fault}); err != nil {
		return err
	}
	faultAt := time.Now()
	took, ok := r.waitFor(ctx, b.Detection, func(st runtime.Status) bool { return regionOf(st, target).Alarm == "ALARM" })
	r.step("detection (alarm in ALARM)", took, b.Detection, ok, "")
	var by string
	_, ok = r.waitFor(ctx, b.RoutesFlip-time.Since(faultAt), func(st runtime.Status) bool {
		by = st.LastDecider
		return regionOf(st, target).Dial == 0
	})
	took = time.Since(faultAt)
	note := ""
	if ok && by != "" {
		note = "by the decider in " + by
	}
	r.step("routes flipped (dial 0)", took, b.RoutesFlip, ok, note)
	r.rep.Decider = by
	moved, okMoved := load.waitMoved(ctx, faultAt, target, b.Traffic)
	if serving {
		r.step("traffic moved off "+target, moved, b.Traffic, okMoved, "first request served by "+load.servedBy())
	} else {
		r.logf("note: %s is not the Region the global endpoint serves from: traffic stays where it is", target)
	}
	select { // keep the client going on the new Region
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(3 * time.Second):
	}
	reqs, errs, after := load.counts()
	r.countStep("client errors after traffic moved", after, b.ErrorsAfterFlip, okMoved,
		fmt.Sprintf("%d errors of %d requests in total", errs, reqs))
	r.rep.ErrorsAfterFlip = after
	return ctx.Err()
}

// recoverStep removes the fault, waits for the alarm to clear and fails back.
func (r *runner) recoverStep(ctx context.Context, target string, serving bool, load *load) error {
	b := r.opts.Bounds
	r.logf("removing the fault in %s", target)
	if err := r.post(ctx, runtime.PathFaults+target, runtime.FaultRequest{Mode: "up"}); err != nil {
		return err
	}
	r.injected = ""
	took, ok := r.waitFor(ctx, b.Recovery, func(st runtime.Status) bool { return regionOf(st, target).Alarm == "OK" })
	r.step("recovery (alarm OK)", took, b.Recovery, ok, "")
	if ctx.Err() != nil {
		return ctx.Err()
	}
	r.logf("failback")
	fbAt := time.Now()
	if err := r.post(ctx, runtime.PathCommand, runtime.CommandRequest{Action: "failback", Reason: "drill", By: "mrapctl drill"}); err != nil {
		return err
	}
	if serving {
		back, okBack := load.waitServedBy(ctx, fbAt, target, b.Failback)
		r.step("traffic back in "+target, back, b.Failback, okBack, "")
	} else {
		back, okBack := r.waitFor(ctx, b.Failback, func(st runtime.Status) bool { return regionOf(st, target).Dial == 100 })
		r.step("routes back (dial 100)", back, b.Failback, okBack, "")
	}
	load.stop()
	reqs, errs, _ := load.counts()
	r.rep.ClientRequests, r.rep.ClientErrors = reqs, errs
	r.rep.ErrorsAfterFailback = load.errorsSince(fbAt)
	if r.rep.ErrorsAfterFailback > 0 {
		r.logf("note: %d client errors after failback (reads of outage writes not yet replicated back to %s)", r.rep.ErrorsAfterFailback, target)
	}
	return ctx.Err()
}

// catchUpStep waits for what was written elsewhere during the outage to reach the target.
func (r *runner) catchUpStep(ctx context.Context, target string, load *load) {
	b := r.opts.Bounds
	key, data := load.lastWrittenElsewhere(target)
	if key == "" {
		r.step("outage writes replicated to "+target, 0, b.CatchUp, false, "no write was served by another Region")
		return
	}
	took, ok := r.replicated(ctx, key, data, target, b.CatchUp)
	r.step("outage writes replicated to "+target, took, b.CatchUp, ok, key)
}

// replicated waits until key holds data in every Region (or only in `only`).
func (r *runner) replicated(ctx context.Context, key string, data []byte, only string, limit time.Duration) (time.Duration, bool) {
	start := time.Now()
	pending := map[string]runtime.RegionEndpoint{}
	for _, re := range r.ep.Regions {
		if only == "" || re.Region == only {
			pending[re.Region] = re
		}
	}
	for len(pending) > 0 && time.Since(start) < limit && ctx.Err() == nil {
		for name, re := range pending {
			c := r.s3(re.Endpoint, re.Region, aws.NopRetryer{})
			out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(re.Bucket), Key: aws.String(key)})
			if err != nil {
				continue
			}
			got, _ := io.ReadAll(out.Body)
			out.Body.Close()
			if bytes.Equal(got, data) {
				delete(pending, name)
			}
		}
		if len(pending) > 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	return time.Since(start), len(pending) == 0
}

// load is a client writing and reading through the global endpoint every 100ms.
type load struct {
	mu        sync.Mutex
	reqs      int
	errs      []time.Time
	served    []served
	movedAt   time.Time
	stopCh    chan struct{}
	done      chan struct{}
	lastOther map[string]written
}

type served struct {
	at     time.Time
	region string
}

type written struct {
	key  string
	data []byte
}

func (r *runner) startLoad(ctx context.Context, prefix string) *load {
	l := &load{stopCh: make(chan struct{}), done: make(chan struct{}), lastOther: map[string]written{}}
	var region string
	var mu sync.Mutex
	hc := &http.Client{Timeout: 3 * time.Second, Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err == nil {
			mu.Lock()
			region = resp.Header.Get(globalendpoint.RegionHeader)
			mu.Unlock()
		}
		return resp, err
	})}
	c := s3store.NewClient(s3store.StaticConfig(r.ep.AccessKeyID, r.ep.SecretAccessKey), "us-east-1", r.ep.GlobalEndpoint, func(o *s3.Options) {
		o.Retryer, o.HTTPClient = aws.NopRetryer{}, hc
	})
	go func() {
		defer close(l.done)
		for i := 0; ; i++ {
			select {
			case <-l.stopCh:
				return
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			key := fmt.Sprintf("%s%06d", prefix, i)
			data := []byte(fmt.Sprintf("load %d %s", i, time.Now().UTC().Format(time.RFC3339Nano)))
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(r.ep.MRAPAlias), Key: aws.String(key), Body: bytes.NewReader(data)})
			mu.Lock()
			putRegion := region
			mu.Unlock()
			if err == nil {
				var out *s3.GetObjectOutput
				out, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(r.ep.MRAPAlias), Key: aws.String(key)})
				if err == nil {
					got, rerr := io.ReadAll(out.Body)
					out.Body.Close()
					if rerr != nil || !bytes.Equal(got, data) {
						err = errors.New("read back differs")
					}
				}
			}
			l.mu.Lock()
			l.reqs += 2
			if err != nil {
				l.errs = append(l.errs, time.Now())
			} else {
				l.served = append(l.served, served{time.Now(), putRegion})
				l.lastOther[putRegion] = written{key, data}
			}
			l.mu.Unlock()
		}
	}()
	return l
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (l *load) stop() {
	select {
	case <-l.stopCh:
	default:
		close(l.stopCh)
	}
	<-l.done
}

// waitMoved waits for a successful request after since served by a Region other than from.
func (l *load) waitMoved(ctx context.Context, since time.Time, from string, limit time.Duration) (time.Duration, bool) {
	for {
		l.mu.Lock()
		for _, s := range l.served {
			if s.at.After(since) && s.region != from && s.region != "" {
				l.movedAt = s.at
				l.mu.Unlock()
				return s.at.Sub(since), true
			}
		}
		l.mu.Unlock()
		if time.Since(since) > limit || ctx.Err() != nil {
			return time.Since(since), false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitServedBy waits for a successful request after since served by region.
func (l *load) waitServedBy(ctx context.Context, since time.Time, region string, limit time.Duration) (time.Duration, bool) {
	for {
		l.mu.Lock()
		for _, s := range l.served {
			if s.at.After(since) && s.region == region {
				l.mu.Unlock()
				return s.at.Sub(since), true
			}
		}
		l.mu.Unlock()
		if time.Since(since) > limit || ctx.Err() != nil {
			return time.Since(since), false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (l *load) servedBy() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.served {
		if !l.movedAt.IsZero() && s.at.Equal(l.movedAt) {
			return s.region
		}
	}
	return "no other Region"
}

// counts returns requests, errors and errors after traffic moved.
func (l *load) counts() (int, int, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	after := 0
	for _, e := range l.errs {
		if !l.movedAt.IsZero() && e.After(l.movedAt) {
			after++
		}
	}
	return l.reqs, len(l.errs), after
}

// errorsSince returns the client errors after t.
func (l *load) errorsSince(t time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.errs {
		if e.After(t) {
			n++
		}
	}
	return n
}

func (l *load) lastWrittenElsewhere(region string) (string, []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for r, w := range l.lastOther {
		if r != region && r != "" {
			return w.key, w.data
		}
	}
	return "", nil
}
