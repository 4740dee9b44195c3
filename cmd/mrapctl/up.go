package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mrap-engine/mrap/shared/local/runtime"
	"github.com/mrap-engine/mrap/shared/routing"
)

func cmdUp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("up", "up [flags]", stderr)
	data := fs.String("data", ".local", "data folder: buckets, routes, identity and logs (kept across restarts)")
	regions := fs.String("regions", strings.Join(runtime.DefaultRegions, ","), "member Regions, comma-separated")
	proximity := fs.String("proximity", "", "Regions in the order the global endpoint prefers them (default: --regions order)")
	globalPort := fs.Int("global-port", 9480, "port of the global endpoint (S3 API) on 127.0.0.1; 0 picks a free one")
	controlPort := fs.Int("control-port", 9481, "port of the control endpoint (routes API and runtime admin); 0 picks a free one")
	regionPorts := fs.Int("region-ports", 9482, "first port of the Regions' S3 endpoints on 127.0.0.1, one per Region in --regions order; 0 picks free ones (new at each start; the default with --global-port 0)")
	mode := fs.String("mode", "active-active", "routing mode: active-active or active-passive")
	cooldown := fs.Duration("cooldown", 30*time.Second, "least time between two automatic routing changes")
	failback := fs.Bool("failback", false, "return traffic to a recovered Region automatically after --failback-window")
	failbackWindow := fs.Duration("failback-window", time.Minute, "how long a Region must be healthy before automatic failback")
	probe := fs.Duration("probe-interval", time.Second, "time between canary probes of each Region (one alarm datapoint each)")
	probeTimeout := fs.Duration("probe-timeout", 800*time.Millisecond, "a probe slower than this fails")
	datapoints := fs.Int("alarm-datapoints", 2, "failed probes (N) out of --alarm-periods (M) that raise a Region's alarm")
	periods := fs.Int("alarm-periods", 3, "probes (M) the alarm looks at")
	deciders := fs.String("deciders", "", "control Regions running a failover decider, in order (default: the first two --regions)")
	binary := fs.String("versitygw", "", "versitygw executable (default: on PATH, then ./bin/versitygw)")
	quiet := fs.Bool("quiet", false, "print only the start-up summary and errors")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	if *globalPort == 0 && !explicit["region-ports"] { // asked for free ports: free Region ports too
		*regionPorts = 0
	}
	// One runtime per data folder: the lock comes before the log file or anything else.
	lock, err := runtime.LockDataDir(*data)
	if err != nil {
		return err
	}
	defer lock.Release() // a no-op once the runtime has released it
	logFile, err := os.OpenFile(filepath.Join(*data, "runtime.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	level := slog.LevelInfo
	if *quiet {
		level = slog.LevelError
	}
	logger := slog.New(fanout{
		slog.NewJSONHandler(logFile, &slog.HandlerOptions{Level: slog.LevelDebug}),
		slog.NewTextHandler(stdout, &slog.HandlerOptions{Level: level}),
	})
	opts := runtime.Options{
		DataDir: *data, Regions: splitList(*regions), Proximity: splitList(*proximity), Binary: *binary,
		GlobalAddr: fmt.Sprintf("127.0.0.1:%d", *globalPort), ControlAddr: fmt.Sprintf("127.0.0.1:%d", *controlPort), RegionPortBase: *regionPorts,
		ProbeInterval: *probe, ProbeTimeout: *probeTimeout, AlarmDatapoints: *datapoints, AlarmPeriods: *periods,
		Policy: routing.Policy{
			Mode: routing.Mode(*mode), Cooldown: *cooldown, Failback: *failback, FailbackWindow: *failbackWindow,
			Priority: splitList(*proximity),
		},
		Deciders: splitList(*deciders), Logger: logger, Progress: stdout, Lock: lock,
	}
	if opts.Policy.Mode == routing.ActivePassive && len(opts.Policy.Priority) == 0 {
		opts.Policy.Priority = opts.Regions
	}
	if err := opts.Validate(); err != nil {
		return fmt.Errorf("bad options: %w", err)
	}
	fmt.Fprintf(stdout, "mrapctl up: starting %d Regions in %s\n", len(opts.Regions), *data)
	start := time.Now()
	rt, err := runtime.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer rt.Close()
	printSummary(stdout, rt.Endpoints(), *data, time.Since(start))
	if note := awsCLINote(ctx); note != "" {
		fmt.Fprintln(stdout, note)
	}
	<-ctx.Done()
	fmt.Fprintln(stdout, "\nstopping (data and routes are kept in", *data+") ...")
	return nil
}

func printSummary(w io.Writer, ep runtime.Endpoints, data string, took time.Duration) {
	fmt.Fprintf(w, "\nready in %s. Press Ctrl-C to stop.\n\n", took.Round(10*time.Millisecond))
	fmt.Fprintf(w, "  access point   %s\n  global         %s   (S3 API; bucket name: %s)\n  control        %s   (routes API)\n",
		ep.MRAPARN, ep.GlobalEndpoint, ep.MRAPAlias, ep.ControlEndpoint)
	for _, r := range ep.Regions {
		fmt.Fprintf(w, "  %-14s %s   (bucket %s)\n", r.Region, r.Endpoint, r.Bucket)
	}
	ctlPort := ep.ControlEndpoint[strings.LastIndex(ep.ControlEndpoint, ":")+1:]
	me := self()
	fmt.Fprintf(w, "\nTry it (credentials are in %s/endpoints.json):\n", data)
	fmt.Fprintf(w, "  export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_REGION=us-east-1\n", ep.AccessKeyID, ep.SecretAccessKey)
	fmt.Fprintf(w, "  aws s3 cp README.md s3://%s/README.md --endpoint-url %s\n", ep.MRAPAlias, ep.GlobalEndpoint)
	fmt.Fprintf(w, "  %s status      %s fault us-east-1 down      %s drill\n", me, me, me)
	fmt.Fprintf(w, "  HTTP_PROXY=%s aws s3control get-multi-region-access-point-routes \\\n      --account-id %s --mrap %s --endpoint-url http://localhost:%s\n\n",
		ep.ControlEndpoint, ep.AccountID, ep.MRAPARN, ctlPort)
}

// self is how the user can call this program from the current folder.
func self() string {
	wd, err1 := os.Getwd()
	exe, err2 := os.Executable()
	if err1 == nil && err2 == nil {
		if rel, err := filepath.Rel(wd, exe); err == nil && !strings.HasPrefix(rel, "..") && !strings.HasPrefix(rel, "/tmp") {
			return rel
		}
	}
	return "mrapctl"
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// fanout sends every record to several handlers.
type fanout []slog.Handler

func (f fanout) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range f {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (f fanout) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	for _, h := range f {
		if h.Enabled(ctx, r.Level) {
			errs = append(errs, h.Handle(ctx, r.Clone()))
		}
	}
	return errors.Join(errs...)
}

func (f fanout) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithAttrs(attrs)
	}
	return out
}

func (f fanout) WithGroup(name string) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithGroup(name)
	}
	return out
}
