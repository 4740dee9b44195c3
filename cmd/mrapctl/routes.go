package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/s3control"

	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/failover"
	"github.com/mrap-engine/mrap/shared/health"
	"github.com/mrap-engine/mrap/shared/local/runtime"
	"github.com/mrap-engine/mrap/shared/mrap"
	"github.com/mrap-engine/mrap/shared/routing"
	"github.com/mrap-engine/mrap/shared/telemetry"
)

// awsFlags are the flags that switch a command to AWS. Everything else comes from the same
// MRAP_* environment as the failover function (docs/contracts.md).
type awsFlags struct {
	arn         *string
	alarmPrefix *string
	dryRun      *bool
}

// addAWSFlags adds the AWS flags; --dry-run only to a command that changes something.
func addAWSFlags(fs interface {
	String(string, string, string) *string
	Bool(string, bool, string) *bool
}, changes bool) awsFlags {
	af := awsFlags{
		arn:         fs.String("mrap-arn", "", "act on AWS: the access point ARN arn:aws:s3::ACCOUNT:accesspoint/ALIAS; without it, the local runtime in --data"),
		alarmPrefix: fs.String("alarm-prefix", os.Getenv("MRAP_ALARM_PREFIX"), "AWS: health alarms are named PREFIX+TARGET-from-OBSERVER-availability in the observer's Region (env MRAP_ALARM_PREFIX; witness Regions from MRAP_WITNESSES)"),
		dryRun:      new(bool),
	}
	if changes {
		af.dryRun = fs.Bool("dry-run", false, "AWS: decide and print, submit nothing")
	}
	return af
}

// lookup is the environment with the flags laid over it, for the engine's config loader.
func (af awsFlags) lookup(k string) (string, bool) {
	switch k {
	case "MRAP_ARN":
		return *af.arn, true
	case "MRAP_ACCOUNT_ID":
		if v, ok := os.LookupEnv(k); ok && v != "" {
			return v, true
		}
		if a, err := arn.Parse(*af.arn); err == nil {
			return a.AccountID, true
		}
	case "MRAP_ALARM_PREFIX":
		return *af.alarmPrefix, *af.alarmPrefix != ""
	case "MRAP_DRY_RUN":
		if *af.dryRun {
			return "true", true
		}
	}
	return os.LookupEnv(k)
}

func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("status", "status [flags]", stderr)
	data := fs.String("data", ".local", "data folder of the local runtime")
	jsonOut := fs.Bool("json", false, "print JSON")
	watch := fs.Duration("watch", 0, "local: redraw every interval (such as 1s) until Ctrl-C")
	af := addAWSFlags(fs, false)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *af.arn != "" {
		return awsStatus(ctx, af, *jsonOut, stdout)
	}
	l, err := openLocal(*data)
	if err != nil {
		return err
	}
	for {
		st, err := l.status(ctx)
		if err != nil {
			return err
		}
		if *jsonOut {
			if err := writeJSON(stdout, st); err != nil {
				return err
			}
		} else {
			if *watch > 0 {
				fmt.Fprint(stdout, "\033[H\033[2J") // clear the terminal
				fmt.Fprintf(stdout, "%s  (every %s, Ctrl-C to stop)\n", time.Now().Format(time.TimeOnly), *watch)
			}
			printLocalStatus(stdout, st)
		}
		if *watch <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*watch):
		}
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func cmdRouting(ctx context.Context, action string, args []string, stdout, stderr io.Writer) error {
	synopsis := map[string]string{"failover": "failover --to REGION [flags]", "failback": "failback [flags]", "drain": "drain [flags] REGION"}[action]
	fs := newFlags(action, synopsis, stderr)
	data := fs.String("data", ".local", "data folder of the local runtime")
	to := new(string)
	wait := new(time.Duration)
	if action == "failover" {
		to = fs.String("to", "", "the Region to send all traffic to")
	}
	if action != "drain" {
		wait = fs.Duration("wait", 30*time.Second, "local: wait up to this long for the Region(s) given traffic to be healthy, then apply (0: apply now)")
	}
	reason := fs.String("reason", "", "why, for the audit log")
	af := addAWSFlags(fs, true)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	c := routing.Command{Action: routing.Action(action), Reason: *reason, RequestedBy: requester()}
	switch action {
	case "failover":
		if *to == "" && len(pos) == 1 {
			*to = pos[0]
		} else if len(pos) > 0 {
			fs.Usage()
			return fmt.Errorf("unexpected arguments %q", strings.Join(pos, " "))
		}
		if *to == "" {
			fs.Usage()
			return errors.New("failover needs --to REGION")
		}
		c.Region = *to
	case "drain":
		if len(pos) != 1 {
			fs.Usage()
			return errors.New("drain needs exactly one REGION")
		}
		c.Region = pos[0]
	case "failback":
		if len(pos) > 0 {
			fs.Usage()
			return fmt.Errorf("failback takes no Region, got %q", strings.Join(pos, " "))
		}
	}
	if *af.arn != "" {
		return awsCommand(ctx, af, c, stdout)
	}
	l, err := openLocal(*data)
	if err != nil {
		return err
	}
	if *wait > 0 {
		if err := waitHealthy(ctx, l.status, action, c.Region, *wait, 500*time.Millisecond, stdout); err != nil {
			return err
		}
	}
	var resp runtime.CommandResponse
	err = l.do(ctx, http.MethodPost, runtime.PathCommand, runtime.CommandRequest{Action: action, Region: c.Region, Reason: c.Reason, By: c.RequestedBy}, &resp)
	if err != nil {
		return err
	}
	return printDecision(stdout, resp.Changed, resp.Refused, resp.Reason, resp.Routes)
}

func printDecision(w io.Writer, changed, refused bool, reason string, routes map[string]int) error {
	switch {
	case refused:
		fmt.Fprintln(w, "refused:", reason)
		return exitCode(1)
	case changed:
		fmt.Fprintln(w, "routes changed:", reason)
	default:
		fmt.Fprintln(w, "no change:", reason)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range slices.Sorted(maps.Keys(routes)) {
		fmt.Fprintf(tw, "  %s\t%d\n", r, routes[r])
	}
	return tw.Flush()
}

func requester() string {
	if u := os.Getenv("USER"); u != "" {
		return "mrapctl:" + u
	}
	return "mrapctl"
}

// awsClients builds the routes adapter and, with an alarm prefix, the quorum health reader
// of the members given, observed as the deciders observe them (every member and witness).
func awsClients(ctx context.Context, af awsFlags) (*mrap.Client, func([]string) (*health.QuorumReader, error), aws.Config, error) {
	a, err := arn.Parse(*af.arn)
	if err != nil || !strings.HasPrefix(a.Resource, "accesspoint/") {
		return nil, nil, aws.Config{}, fmt.Errorf("--mrap-arn %q is not arn:aws:s3::ACCOUNT:accesspoint/ALIAS", *af.arn)
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, nil, aws.Config{}, fmt.Errorf("load AWS configuration (profile, credentials): %w", err)
	}
	client, err := mrap.New(s3control.NewFromConfig(cfg), mrap.Options{AccountID: a.AccountID, ARN: *af.arn,
		Endpoint: os.Getenv("MRAP_CONTROL_ENDPOINT")})
	if err != nil {
		return nil, nil, aws.Config{}, err
	}
	alarms := func(members []string) (*health.QuorumReader, error) {
		if *af.alarmPrefix == "" {
			return nil, nil
		}
		env := config.New(af.lookup)
		topo := health.Topology{Members: members, Witnesses: env.List("MRAP_WITNESSES", nil)}
		if err := env.Err(); err != nil {
			return nil, err
		}
		clients := map[string]health.AlarmsAPI{}
		for _, r := range topo.Observers() {
			clients[r] = cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) { o.Region = r })
		}
		reader, err := health.NewAlarmReader(clients, health.AlarmOptions{Prefix: *af.alarmPrefix})
		if err != nil {
			return nil, err
		}
		return health.NewQuorumReader(reader, topo)
	}
	return client, alarms, cfg, nil
}

// replicationStats reads the replicator's ReplicationLatency (average and maximum) and
// Replicated (sum) of the last 15 minutes in region; ok is false when there are none.
func replicationStats(ctx context.Context, cfg aws.Config, region string) (avg, maxLat, replicated float64, ok bool) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cw := cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) { o.Region = region })
	ns := os.Getenv("MRAP_METRIC_NAMESPACE")
	if ns == "" {
		ns = telemetry.DefaultNamespace
	}
	end := time.Now()
	get := func(metric string, stats ...cwtypes.Statistic) *cwtypes.Datapoint {
		out, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{
			Namespace: aws.String(ns), MetricName: aws.String(metric), StartTime: aws.Time(end.Add(-15 * time.Minute)), EndTime: aws.Time(end),
			Period: aws.Int32(900), Statistics: stats, Dimensions: []cwtypes.Dimension{{Name: aws.String("Region"), Value: aws.String(region)}},
		})
		if err != nil || len(out.Datapoints) == 0 {
			return nil
		}
		return &out.Datapoints[0]
	}
	lat := get("ReplicationLatency", cwtypes.StatisticAverage, cwtypes.StatisticMaximum)
	n := get("Replicated", cwtypes.StatisticSum)
	if lat == nil && n == nil {
		return 0, 0, 0, false
	}
	if lat != nil {
		avg, maxLat = aws.ToFloat64(lat.Average), aws.ToFloat64(lat.Maximum)
	}
	if n != nil {
		replicated = aws.ToFloat64(n.Sum)
	}
	return avg, maxLat, replicated, true
}

func awsStatus(ctx context.Context, af awsFlags, jsonOut bool, stdout io.Writer) error {
	client, alarms, cfg, err := awsClients(ctx, af)
	if err != nil {
		return err
	}
	routes, err := client.GetRoutes(ctx)
	if err != nil {
		return err
	}
	var regions []string
	for _, r := range routes {
		regions = append(regions, r.Region)
	}
	var hs map[string]routing.RegionHealth
	reader, err := alarms(regions)
	if err != nil {
		return err
	}
	if reader != nil {
		view, _ := reader.Read(ctx)
		hs = view.Health
	}
	type row struct {
		mrap.Route
		Health *routing.RegionHealth `json:"health,omitempty"`
		// Replication of writes from this Region over the last 15 minutes (CloudWatch).
		LatencyAvgMs float64 `json:"replication_latency_avg_ms,omitempty"`
		LatencyMaxMs float64 `json:"replication_latency_max_ms,omitempty"`
		Replicated   float64 `json:"replicated_15m,omitempty"`
	}
	rows := make([]row, len(routes))
	var wg sync.WaitGroup
	for i, r := range routes {
		rows[i].Route = r
		if h, ok := hs[r.Region]; ok {
			rows[i].Health = &h
		}
		wg.Go(func() {
			rows[i].LatencyAvgMs, rows[i].LatencyMaxMs, rows[i].Replicated, _ = replicationStats(ctx, cfg, r.Region)
		})
	}
	wg.Wait()
	if jsonOut {
		return writeJSON(stdout, rows)
	}
	fmt.Fprintf(stdout, "access point %s (AWS)\n\n", *af.arn)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tDIAL\tALARM\tSINCE\tREPLICATED 15m\tREPL. LATENCY avg/max\tBUCKET")
	for _, r := range rows {
		h, since, lat := "-", "-", "-"
		if r.Health != nil {
			h = string(r.Health.State)
			if !r.Health.Since.IsZero() {
				since = r.Health.Since.Format(time.RFC3339)
			}
		}
		if r.LatencyMaxMs > 0 {
			lat = fmt.Sprintf("%.0fms/%.0fms", r.LatencyAvgMs, r.LatencyMaxMs)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%.0f\t%s\t%s\n", r.Region, r.Dial, h, since, r.Replicated, lat, r.Bucket)
	}
	tw.Flush()
	if *af.alarmPrefix == "" {
		fmt.Fprintln(stdout, "\n(health not shown: pass --alarm-prefix or set MRAP_ALARM_PREFIX)")
	}
	fmt.Fprintln(stdout, "replication backlog on AWS: the replicator queues' depth on the dashboard; dead letters: mrapctl redrive --dlq-arn")
	return nil
}

// awsCommand runs the command through the failover engine exactly as the failover function
// does (same policy from MRAP_*, same alarms, same state object, same audit), from here.
func awsCommand(ctx context.Context, af awsFlags, c routing.Command, stdout io.Writer) error {
	env := config.New(af.lookup)
	home := env.String("AWS_REGION", env.String("AWS_DEFAULT_REGION", ""))
	if home == "" {
		env.Fail("AWS_REGION", "is required: the home Region of the control stack")
	}
	cfg := failover.LoadConfig(env, home)
	if err := env.Err(); err != nil {
		return fmt.Errorf("AWS mode reads the failover function's settings from the environment (docs/contracts.md):\n%w", err)
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(home))
	if err != nil {
		return fmt.Errorf("load AWS configuration (profile, credentials): %w", err)
	}
	// The same constructor as the failover function: this run acts as decider MRAP_DECIDER
	// (default AWS_REGION).
	engine, err := failover.NewAWS(cfg, awsCfg, io.Discard, nil)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "reading routes, alarms and the failover state ...")
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	out, err := engine.Evaluate(ctx, failover.CommandTrigger(c, "mrapctl-"+hex.EncodeToString(id), time.Now()))
	if err != nil {
		return err
	}
	if out.Submitted {
		fmt.Fprintln(stdout, "submitted via", out.ControlRegion, "(AWS applies route changes within about 2 minutes)")
	}
	return printDecision(stdout, out.Submitted, out.Refused || out.Ignored, out.Reason, out.Routes)
}
