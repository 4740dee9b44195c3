// Package runtime is the local multi-Region runtime: one versitygw process per Region behind
// a fault-injection proxy, the bucket notifications bridged to EventBridge envelopes and fed
// to the replication engine, a global endpoint routing like a Multi-Region Access Point, an
// s3control-compatible routes API, and a prober with local alarms driving the failover
// policy. `mrapctl up` (and `make run`) starts it in the foreground.
package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/docstore"
	"github.com/mrap-engine/mrap/shared/local/eventbus"
	"github.com/mrap-engine/mrap/shared/local/faults"
	"github.com/mrap-engine/mrap/shared/local/globalendpoint"
	"github.com/mrap-engine/mrap/shared/local/network"
	"github.com/mrap-engine/mrap/shared/local/notifybridge"
	"github.com/mrap-engine/mrap/shared/local/routesapi"
	"github.com/mrap-engine/mrap/shared/local/s3server"
	"github.com/mrap-engine/mrap/shared/local/sigv4verify"
	"github.com/mrap-engine/mrap/shared/routing"
	"github.com/mrap-engine/mrap/shared/s3store"
	"github.com/mrap-engine/mrap/shared/telemetry"
)

// DefaultRegions are the Regions of a local deployment when none are given.
var DefaultRegions = []string{"us-east-1", "eu-west-1", "ap-southeast-2"}

// Options configure a Runtime. The zero value of every field has a usable default.
type Options struct {
	// DataDir holds the buckets, routes, identity and logs (default ".local").
	DataDir string
	// Regions of the access point (default DefaultRegions).
	Regions []string
	// Proximity is the order in which the global endpoint prefers Regions (default Regions).
	Proximity []string
	// Binary is the versitygw executable (default: PATH, then ./bin).
	Binary string
	// GlobalAddr and ControlAddr are the listen addresses of the global endpoint and the
	// control endpoint (routes API and runtime admin); default 127.0.0.1:0 (a free port).
	GlobalAddr  string
	ControlAddr string
	// RegionPortBase, when above 0, fixes the Regions' S3 endpoints on 127.0.0.1 at
	// RegionPortBase, RegionPortBase+1, ... in the order of Regions (default 0: free ports,
	// new at each start).
	RegionPortBase int
	// ProbeInterval is the time between canary probes of each Region (default 1s); one probe
	// is one alarm datapoint. ProbeTimeout bounds a probe (default 800ms).
	ProbeInterval time.Duration
	ProbeTimeout  time.Duration
	// AlarmDatapoints (N) of the last AlarmPeriods (M) failed probes raise the alarm
	// (default 2 of 3).
	AlarmDatapoints int
	AlarmPeriods    int
	// Policy is the failover policy (default active-active, cooldown 30s, no automatic
	// failback, INSUFFICIENT_DATA ignored).
	Policy routing.Policy
	// Deciders are the control Regions, in order, each running a failover decider
	// (default: the first two Regions).
	Deciders []string
	// StateInBuckets keeps each Region's copy of the failover state in its member bucket
	// under .mrap-state/ (as on AWS, where every state copy is an S3 bucket, so mrapctl in
	// AWS mode reads the records the local deciders write) instead of DATA/state/REGION.
	StateInBuckets bool
	// ScheduleInterval is the time between scheduled re-evaluations of each decider
	// (default 5s; one minute on AWS).
	ScheduleInterval time.Duration
	// Logger receives the runtime's log lines (default: discard).
	Logger *slog.Logger
	// Progress receives start-up progress for humans (default: discard).
	Progress io.Writer
	// Lock is the caller's hold on DataDir (from LockDataDir); when nil, Start takes it.
	// Either way the runtime releases it on Close.
	Lock *DataLock
}

// Runtime is a running local deployment.
type Runtime struct {
	opts     Options
	id       Identity
	log      *slog.Logger
	metrics  *telemetry.Metrics
	regions  []*region
	table    *routesapi.Table
	bridge   *notifybridge.Bridge
	links    *network.Links
	deciders []*decider
	// stateCopies is the failover state copy of every Region, as its own Region reaches it.
	stateCopies map[string]docstore.Store
	servers     []*http.Server
	global      string
	control     string

	stopProbes context.CancelFunc
	probeCtx   context.Context
	// replLatency holds, per source Region, the last time from notification to replicated.
	replLatency sync.Map
	wg          sync.WaitGroup
	closeOnce   sync.Once
	closers     []func()
	lock        *DataLock
}

type region struct {
	name     string
	server   *s3server.Server
	fault    *faults.Proxy
	url      string // the fault proxy: the Region's endpoint for everyone
	observer *observer
}

type probeResult struct {
	OK      bool
	Latency time.Duration
	Err     string
	At      time.Time
}

// Endpoints is DATA/endpoints.json.
type Endpoints struct {
	AccountID       string           `json:"account_id"`
	AccessKeyID     string           `json:"access_key_id"`
	SecretAccessKey string           `json:"secret_access_key"`
	MRAPARN         string           `json:"mrap_arn"`
	MRAPAlias       string           `json:"mrap_alias"`
	GlobalEndpoint  string           `json:"global_endpoint"`
	ControlEndpoint string           `json:"control_endpoint"`
	Regions         []RegionEndpoint `json:"regions"`
}

// RegionEndpoint is one Region of Endpoints.
type RegionEndpoint struct {
	Region   string `json:"region"`
	Endpoint string `json:"endpoint"`
	Bucket   string `json:"bucket"`
}

// ReadEndpoints loads DATA/endpoints.json.
func ReadEndpoints(dataDir string) (Endpoints, error) {
	var e Endpoints
	b, err := os.ReadFile(filepath.Join(dataDir, "endpoints.json"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return e, fmt.Errorf("no local runtime found in %s (start one with `make run` or `mrapctl up --data %s`)", dataDir, dataDir)
		}
		return e, err
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return e, fmt.Errorf("read %s/endpoints.json: %w", dataDir, err)
	}
	return e, nil
}

func (o *Options) defaults() error {
	if o.DataDir == "" {
		o.DataDir = ".local"
	}
	if len(o.Regions) == 0 {
		o.Regions = DefaultRegions
	}
	var errs []error
	seen := map[string]bool{}
	for _, r := range o.Regions {
		if !config.ValidRegion(r) {
			errs = append(errs, fmt.Errorf("%q is not a Region name (like us-east-1)", r))
		}
		if seen[r] {
			errs = append(errs, fmt.Errorf("the Region %s is listed twice", r))
		}
		seen[r] = true
	}
	if len(o.Regions) < 2 {
		errs = append(errs, fmt.Errorf("a Multi-Region Access Point needs at least two Regions, got %d", len(o.Regions)))
	}
	if len(o.Proximity) == 0 {
		o.Proximity = o.Regions
	}
	for _, r := range o.Proximity {
		if !seen[r] {
			errs = append(errs, fmt.Errorf("proximity Region %s is not one of the Regions %v", r, o.Regions))
		}
	}
	for _, r := range o.Regions { // Regions left out of the proximity order come last
		if !slices.Contains(o.Proximity, r) {
			o.Proximity = append(slices.Clone(o.Proximity), r)
		}
	}
	if len(o.Deciders) == 0 {
		o.Deciders = o.Regions[:min(2, len(o.Regions))]
	}
	seenDecider := map[string]bool{}
	for _, d := range o.Deciders {
		if !seen[d] {
			errs = append(errs, fmt.Errorf("decider Region %s is not one of the Regions %v (locally every decider runs in a member Region)", d, o.Regions))
		}
		if seenDecider[d] {
			errs = append(errs, fmt.Errorf("the decider Region %s is listed twice", d))
		}
		seenDecider[d] = true
	}
	if o.ScheduleInterval <= 0 {
		o.ScheduleInterval = 5 * time.Second
	}
	if o.GlobalAddr == "" {
		o.GlobalAddr = "127.0.0.1:0"
	}
	if o.ControlAddr == "" {
		o.ControlAddr = "127.0.0.1:0"
	}
	if o.RegionPortBase < 0 || o.RegionPortBase+len(o.Regions) > 65536 {
		errs = append(errs, fmt.Errorf("region port base %d: want 0 (free ports) or a port with room for %d Regions", o.RegionPortBase, len(o.Regions)))
	}
	if o.ProbeInterval <= 0 {
		o.ProbeInterval = time.Second
	}
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = 800 * time.Millisecond
	}
	if o.AlarmPeriods <= 0 {
		o.AlarmPeriods = 3
	}
	if o.AlarmDatapoints <= 0 {
		o.AlarmDatapoints = min(2, o.AlarmPeriods)
	}
	if o.AlarmDatapoints > o.AlarmPeriods {
		errs = append(errs, fmt.Errorf("alarm datapoints %d exceed the evaluation periods %d", o.AlarmDatapoints, o.AlarmPeriods))
	}
	if o.Policy.Mode == "" {
		o.Policy.Mode = routing.ActiveActive
		if o.Policy.Cooldown == 0 {
			o.Policy.Cooldown = 30 * time.Second
		}
	}
	if o.Policy.Mode == routing.ActivePassive && len(o.Policy.Priority) == 0 {
		o.Policy.Priority = o.Proximity
	}
	if err := o.Policy.Validate(); err != nil {
		errs = append(errs, err)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return errors.Join(errs...)
}

// Validate reports what is wrong with the options, without starting anything.
func (o Options) Validate() error {
	o.Regions, o.Proximity, o.Deciders = slices.Clone(o.Regions), slices.Clone(o.Proximity), slices.Clone(o.Deciders)
	return o.defaults()
}

// Bucket is the member bucket of a local Region.
func Bucket(region string) string { return "mrap-local-" + region }

// Start brings the whole deployment up and writes DATA/endpoints.json. On error everything
// already started is stopped again.
func Start(ctx context.Context, opts Options) (_ *Runtime, err error) {
	if err := opts.defaults(); err != nil {
		return nil, fmt.Errorf("bad options: %w", err)
	}
	// The folder lock comes before anything else: a second start on a folder in use fails
	// here, having started nothing and written nothing.
	lock := opts.Lock
	if lock == nil {
		if lock, err = LockDataDir(opts.DataDir); err != nil {
			return nil, err
		}
	}
	opts.Lock = nil
	binary, err := s3server.FindBinary(opts.Binary)
	if err != nil {
		lock.Release()
		return nil, fmt.Errorf("%w\n  install it with: make tools   (or: GOBIN=$PWD/bin go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)", err)
	}
	rt := &Runtime{opts: opts, log: opts.Logger, links: network.New(opts.Regions), lock: lock}
	defer func() {
		if err != nil {
			rt.Close()
		}
	}()
	if err := rt.openDataDir(); err != nil {
		return nil, err
	}
	ls, err := rt.listenAll()
	if err != nil {
		return nil, err
	}
	// The webhook must answer before versitygw starts (it posts a test event at start).
	hook := &switchHandler{}
	rt.serve(ls.hook, hook)
	if err := rt.startRegions(ctx, binary, "http://"+ls.hook.Addr().String(), ls.regions); err != nil {
		return nil, err
	}
	if err := rt.openRoutes(); err != nil {
		return nil, err
	}
	if err := rt.startReplication(hook); err != nil {
		return nil, err
	}
	verifier := sigv4verify.New(rt.id.AccessKeyID, rt.id.SecretAccessKey)
	if err := rt.serveGlobalEndpoint(ls.global, verifier); err != nil {
		return nil, err
	}
	rt.serveControl(ls.control, verifier)
	if err := rt.openStateCopies(); err != nil {
		return nil, err
	}
	if err := rt.startDeciders(); err != nil {
		return nil, err
	}
	if err := rt.newObservers(); err != nil {
		return nil, err
	}
	probeCtx, cancel := context.WithCancel(context.Background())
	rt.stopProbes, rt.probeCtx = cancel, probeCtx
	rt.startProbers(probeCtx)
	rt.startSchedules(probeCtx)
	rt.startRedriver(probeCtx, 30*time.Second)
	if err := rt.writeEndpoints(); err != nil {
		return nil, err
	}
	return rt, nil
}

// openDataDir makes the data folder absolute and opens the identity and this run's metrics log.
func (rt *Runtime) openDataDir() error {
	dir, err := filepath.Abs(rt.opts.DataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	rt.opts.DataDir = dir
	if rt.id, err = loadIdentity(dir); err != nil {
		return err
	}
	mf, err := os.OpenFile(filepath.Join(dir, "metrics.log"), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644) // this run's EMF lines
	if err != nil {
		return fmt.Errorf("metrics log: %w", err)
	}
	rt.closers = append(rt.closers, func() { mf.Close() })
	rt.metrics = telemetry.NewMetrics(mf, telemetry.DefaultNamespace)
	return nil
}

type listeners struct {
	global, control, hook net.Listener
	regions               []net.Listener // each Region's S3 endpoint (its fault proxy), in Regions order
}

// listenAll opens the global, control, webhook and Region endpoint listeners first: a port in
// use must fail before anything is started.
func (rt *Runtime) listenAll() (listeners, error) {
	var ls listeners
	for _, l := range []struct {
		what, addr string
		to         *net.Listener
	}{
		{"global endpoint", rt.opts.GlobalAddr, &ls.global},
		{"control endpoint", rt.opts.ControlAddr, &ls.control},
		{"notification webhook", "127.0.0.1:0", &ls.hook},
	} {
		nl, err := listen(l.what, l.addr)
		if err != nil {
			return ls, err
		}
		rt.closers = append(rt.closers, func() { nl.Close() })
		*l.to = nl
	}
	for i, name := range rt.opts.Regions {
		addr := "127.0.0.1:0"
		if rt.opts.RegionPortBase > 0 {
			addr = fmt.Sprintf("127.0.0.1:%d", rt.opts.RegionPortBase+i)
		}
		nl, err := listen(name+" endpoint", addr)
		if err != nil {
			return ls, err
		}
		rt.closers = append(rt.closers, func() { nl.Close() })
		ls.regions = append(ls.regions, nl)
	}
	rt.global = "http://" + ls.global.Addr().String()
	rt.control = "http://" + ls.control.Addr().String()
	return ls, nil
}

// startRegions starts one versitygw per Region behind its fault proxy.
func (rt *Runtime) startRegions(ctx context.Context, binary, hookURL string, endpoints []net.Listener) error {
	for i, name := range rt.opts.Regions {
		fmt.Fprintf(rt.opts.Progress, "  starting %s (versitygw) ...\n", name)
		s, err := s3server.Start(ctx, s3server.Options{
			Binary: binary, Region: name, DataDir: filepath.Join(rt.opts.DataDir, "regions", name), Bucket: Bucket(name),
			AccessKey: rt.id.AccessKeyID, SecretKey: rt.id.SecretAccessKey,
			WebhookURL: hookURL + "/webhook/" + name,
			Log:        rt.processLog(name),
		})
		if err != nil {
			return fmt.Errorf("start Region %s: %w", name, err)
		}
		r := &region{name: name, server: s}
		rt.regions = append(rt.regions, r)
		if r.fault, err = faults.New(s.Endpoint); err != nil {
			return err
		}
		fl := endpoints[i]
		rt.serve(fl, r.fault)
		r.url = "http://" + fl.Addr().String()
	}
	return nil
}

// openRoutes opens the persisted routing table (every Region at dial 100 the first time).
func (rt *Runtime) openRoutes() error {
	var initial []routesapi.Route
	for _, r := range rt.regions {
		initial = append(initial, routesapi.Route{Region: r.name, Bucket: r.server.Bucket, Dial: 100})
	}
	var err error
	rt.table, err = routesapi.Open(filepath.Join(rt.opts.DataDir, "routes.json"), initial)
	return err
}

// startReplication starts the notification bridge feeding the replicators and redrives
// what the last run dead-lettered.
func (rt *Runtime) startReplication(hook *switchHandler) error {
	var members []notifybridge.Member
	for _, r := range rt.regions {
		members = append(members, notifybridge.Member{Region: r.name, Bucket: r.server.Bucket, Client: r.server.Client()})
	}
	deliver, err := rt.replicator()
	if err != nil {
		return err
	}
	rt.bridge = notifybridge.New(members, deliver, notifybridge.Options{
		AccountID: rt.id.AccountID, DeadLetterPath: filepath.Join(rt.opts.DataDir, "replication-dlq.jsonl"), Logger: rt.log,
		SkipPrefixes: []string{CanaryPrefix},
	})
	rt.bridge.Start()
	rt.closers = append(rt.closers, rt.bridge.Stop)
	hook.set(rt.bridge)
	if n, err := rt.bridge.Redrive(); err != nil {
		rt.log.Warn("redrive dead letters", "err", err)
	} else if n > 0 {
		fmt.Fprintf(rt.opts.Progress, "  redriving %d replication events left from the last run\n", n)
	}
	return nil
}

// serveGlobalEndpoint serves the access point's global endpoint over the Regions' fault proxies.
func (rt *Runtime) serveGlobalEndpoint(l net.Listener, verifier *sigv4verify.Verifier) error {
	var targets []globalendpoint.Target
	for _, name := range rt.opts.Proximity {
		r := rt.region(name)
		targets = append(targets, globalendpoint.Target{Region: name, Endpoint: r.url, Bucket: r.server.Bucket})
	}
	proxy, err := globalendpoint.New(rt.table, globalendpoint.Options{
		Alias: rt.id.Alias, Targets: targets, Verifier: verifier, Logger: rt.log,
		Credentials: aws.Credentials{AccessKeyID: rt.id.AccessKeyID, SecretAccessKey: rt.id.SecretAccessKey},
	})
	if err != nil {
		return err
	}
	rt.serve(l, proxy)
	return nil
}

// serveControl serves the routes API, the default event bus of every Region (PutEvents,
// delivered to the Region's decider) and the runtime's admin API.
func (rt *Runtime) serveControl(l net.Listener, verifier *sigv4verify.Verifier) {
	routes := routesapi.New(rt.table, routesapi.Identity{AccountID: rt.id.AccountID, ARN: rt.id.ARN(), Alias: rt.id.Alias},
		routesapi.Options{Verifier: verifier, Logger: rt.log})
	mux := http.NewServeMux()
	mux.Handle("/v20180820/", routes)
	mux.Handle("POST /{$}", &eventbus.Handler{Account: rt.id.AccountID, Deliver: rt.busEvent})
	rt.adminRoutes(mux)
	rt.serve(l, mux)
}

// switchHandler serves 200 until the real handler is set (versitygw's start-up test event).
type switchHandler struct {
	mu sync.RWMutex
	h  http.Handler
}

func (s *switchHandler) set(h http.Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.h = h
}

func (s *switchHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	h := s.h
	s.mu.RUnlock()
	if h == nil {
		_, _ = io.Copy(io.Discard, r.Body)
		return
	}
	h.ServeHTTP(w, r)
}

func listen(what, addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("%s: address %s is already in use (is another `mrapctl up` running? stop it, or pick another port)", what, addr)
		}
		return nil, fmt.Errorf("%s: listen on %s: %w", what, addr, err)
	}
	return l, nil
}

func (rt *Runtime) serve(l net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(rt.log.Handler(), slog.LevelDebug)}
	rt.servers = append(rt.servers, srv)
	rt.wg.Add(1)
	go func() {
		defer rt.wg.Done()
		_ = srv.Serve(l)
	}()
}

func (rt *Runtime) processLog(name string) io.Writer {
	f, err := os.OpenFile(filepath.Join(rt.opts.DataDir, "regions", name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		_ = os.MkdirAll(filepath.Join(rt.opts.DataDir, "regions"), 0o755)
		if f, err = os.OpenFile(filepath.Join(rt.opts.DataDir, "regions", name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err != nil {
			return io.Discard
		}
	}
	rt.closers = append(rt.closers, func() { f.Close() })
	return f
}

func (rt *Runtime) s3Client(regionName, endpoint string, optFns ...func(*s3.Options)) *s3.Client {
	return s3store.NewClient(s3store.StaticConfig(rt.id.AccessKeyID, rt.id.SecretAccessKey), regionName, endpoint, optFns...)
}

func (rt *Runtime) region(name string) *region {
	for _, r := range rt.regions {
		if r.name == name {
			return r
		}
	}
	return nil
}

// after runs fn once d has passed, unless the runtime is closed first.
func (rt *Runtime) after(d time.Duration, fn func(context.Context)) {
	ctx := rt.probeCtx
	rt.wg.Add(1)
	go func() {
		defer rt.wg.Done()
		select {
		case <-ctx.Done():
		case <-time.After(d):
			fn(ctx)
		}
	}()
}

// Endpoints returns what endpoints.json holds.
func (rt *Runtime) Endpoints() Endpoints {
	e := Endpoints{
		AccountID: rt.id.AccountID, AccessKeyID: rt.id.AccessKeyID, SecretAccessKey: rt.id.SecretAccessKey,
		MRAPARN: rt.id.ARN(), MRAPAlias: rt.id.Alias, GlobalEndpoint: rt.global, ControlEndpoint: rt.control,
	}
	for _, r := range rt.regions {
		e.Regions = append(e.Regions, RegionEndpoint{Region: r.name, Endpoint: r.url, Bucket: r.server.Bucket})
	}
	return e
}

func (rt *Runtime) writeEndpoints() error {
	b, _ := json.MarshalIndent(rt.Endpoints(), "", "  ")
	path := filepath.Join(rt.opts.DataDir, "endpoints.json")
	if err := os.WriteFile(path+".tmp", append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write endpoints.json: %w", err)
	}
	return os.Rename(path+".tmp", path)
}

// Close stops everything, in reverse order of start, removes endpoints.json and releases the
// data folder. Only a runtime holding the folder's lock gets here, so the endpoints.json it
// removes is its own or a dead run's, never a running instance's.
func (rt *Runtime) Close() {
	rt.closeOnce.Do(func() {
		if rt.stopProbes != nil {
			rt.stopProbes()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		for _, s := range rt.servers {
			_ = s.Shutdown(ctx)
		}
		rt.wg.Wait()
		for i := len(rt.closers) - 1; i >= 0; i-- {
			rt.closers[i]()
		}
		for i := len(rt.regions) - 1; i >= 0; i-- {
			_ = rt.regions[i].server.Stop()
		}
		if rt.opts.DataDir != "" {
			_ = os.Remove(filepath.Join(rt.opts.DataDir, "endpoints.json"))
		}
		rt.lock.Release()
	})
}
