package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/s3control"

	"github.com/mrap-engine/mrap/shared/health"
	"github.com/mrap-engine/mrap/shared/localrt"
	"github.com/mrap-engine/mrap/shared/mrap"
	"github.com/mrap-engine/mrap/shared/routing"
)

// awsFlags are the flags that switch a command to AWS.
type awsFlags struct {
	arn         *string
	alarmPrefix *string
	mode        *string
	priority    *string
	dryRun      *bool
}

func addAWSFlags(fs interface {
	String(string, string, string) *string
	Bool(string, bool, string) *bool
}) awsFlags {
	return awsFlags{
		arn:         fs.String("mrap-arn", os.Getenv("MRAP_ARN"), "act on AWS: the access point ARN arn:aws:s3::ACCOUNT:accesspoint/ALIAS (env MRAP_ARN)"),
		alarmPrefix: fs.String("alarm-prefix", os.Getenv("MRAP_ALARM_PREFIX"), "AWS: health alarms of Region R are named PREFIX+R-... (env MRAP_ALARM_PREFIX)"),
		mode:        fs.String("mode", envOr("MRAP_ROUTING_MODE", "active-active"), "AWS: routing mode, active-active or active-passive (env MRAP_ROUTING_MODE)"),
		priority:    fs.String("priority", os.Getenv("MRAP_PRIORITY"), "AWS: Regions best first, for active-passive (env MRAP_PRIORITY)"),
		dryRun:      fs.Bool("dry-run", false, "AWS: decide and print, submit nothing"),
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("status", "status [flags]", stderr)
	data := fs.String("data", ".local", "data folder of the local runtime")
	jsonOut := fs.Bool("json", false, "print JSON")
	af := addAWSFlags(fs)
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
	st, err := l.status(ctx)
	if err != nil {
		return err
	}
	if *jsonOut {
		return writeJSON(stdout, st)
	}
	printLocalStatus(stdout, st)
	return nil
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
	to := fs.String("to", "", "failover: the Region to send all traffic to")
	reason := fs.String("reason", "", "why, for the audit log")
	af := addAWSFlags(fs)
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
	var resp localrt.CommandResponse
	err = l.do(ctx, http.MethodPost, localrt.PathCommand, localrt.CommandRequest{Action: action, Region: c.Region, Reason: c.Reason, By: c.RequestedBy}, &resp)
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

// awsClients builds the routes adapter and, with an alarm prefix, the alarm reader.
func awsClients(ctx context.Context, af awsFlags) (*mrap.Client, func([]string) *health.AlarmReader, error) {
	a, err := arn.Parse(*af.arn)
	if err != nil || !strings.HasPrefix(a.Resource, "accesspoint/") {
		return nil, nil, fmt.Errorf("--mrap-arn %q is not arn:aws:s3::ACCOUNT:accesspoint/ALIAS", *af.arn)
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("load AWS configuration (profile, credentials): %w", err)
	}
	client, err := mrap.New(s3control.NewFromConfig(cfg), mrap.Options{AccountID: a.AccountID, ARN: *af.arn,
		Endpoint: os.Getenv("MRAP_CONTROL_ENDPOINT")})
	if err != nil {
		return nil, nil, err
	}
	alarms := func(regions []string) *health.AlarmReader {
		if *af.alarmPrefix == "" {
			return nil
		}
		clients := map[string]health.AlarmsAPI{}
		for _, r := range regions {
			clients[r] = cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) { o.Region = r })
		}
		reader, err := health.NewAlarmReader(clients, health.AlarmOptions{Prefix: *af.alarmPrefix})
		if err != nil {
			return nil
		}
		return reader
	}
	return client, alarms, nil
}

func awsStatus(ctx context.Context, af awsFlags, jsonOut bool, stdout io.Writer) error {
	client, alarms, err := awsClients(ctx, af)
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
	if reader := alarms(regions); reader != nil {
		hs, _ = reader.Read(ctx, regions)
	}
	if jsonOut {
		type row struct {
			mrap.Route
			Health *routing.RegionHealth `json:"health,omitempty"`
		}
		var out []row
		for _, r := range routes {
			rr := row{Route: r}
			if h, ok := hs[r.Region]; ok {
				rr.Health = &h
			}
			out = append(out, rr)
		}
		return writeJSON(stdout, out)
	}
	fmt.Fprintf(stdout, "access point %s (AWS)\n\n", *af.arn)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tDIAL\tALARM\tSINCE\tBUCKET")
	for _, r := range routes {
		h, since := "-", "-"
		if x, ok := hs[r.Region]; ok {
			h = string(x.State)
			if !x.Since.IsZero() {
				since = x.Since.Format(time.RFC3339)
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", r.Region, r.Dial, h, since, r.Bucket)
	}
	tw.Flush()
	if *af.alarmPrefix == "" {
		fmt.Fprintln(stdout, "\n(health not shown: pass --alarm-prefix or set MRAP_ALARM_PREFIX)")
	}
	fmt.Fprintln(stdout, "replication backlog and latency on AWS: see the dashboard (metrics ReplicationLatency, DLQ depth)")
	return nil
}

// awsCommand decides a command with the routing policy over the live routes and alarms and
// submits it. The failover function's saved overrides are not updated: a failover pinned
// here lasts until the function's next automatic change.
func awsCommand(ctx context.Context, af awsFlags, c routing.Command, stdout io.Writer) error {
	client, alarms, err := awsClients(ctx, af)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "reading routes and alarms ...")
	current, err := client.GetRoutes(ctx)
	if err != nil {
		return err
	}
	dials := mrap.Dials(current)
	var regions []string
	for _, r := range current {
		regions = append(regions, r.Region)
	}
	hs := map[string]routing.RegionHealth{}
	if reader := alarms(regions); reader != nil {
		hs, _ = reader.Read(ctx, regions)
	}
	policy := routing.Policy{Mode: routing.Mode(*af.mode), Priority: splitList(*af.priority)}
	if policy.Mode == routing.ActivePassive && len(policy.Priority) == 0 {
		policy.Priority = regions
	}
	d := routing.Decide(routing.Input{Routes: dials, Health: hs, Policy: policy, Now: time.Now(), Command: &c})
	if d.Err != nil {
		return d.Err
	}
	if d.Changed && !d.Refused && !*af.dryRun {
		fmt.Fprintln(stdout, "submitting (AWS applies route changes within about 2 minutes) ...")
		if _, err := client.SubmitRoutes(ctx, current, d.Routes); err != nil {
			return err
		}
	}
	if *af.dryRun && d.Changed {
		d.Reason = "dry run, nothing submitted: " + d.Reason
	}
	return printDecision(stdout, d.Changed && !*af.dryRun, d.Refused, d.Reason, d.Routes)
}
