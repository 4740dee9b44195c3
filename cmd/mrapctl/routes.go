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

	"github.com/mrap-engine/mrap/shared/failover"
	"github.com/mrap-engine/mrap/shared/local/runtime"
	"github.com/mrap-engine/mrap/shared/routing"
)

// awsFlags are the flags that switch a command to AWS: --name or --outputs find the
// deployment (targetFlags); --mrap-arn takes the same MRAP_* environment as the failover
// function (docs/contracts.md).
type awsFlags struct {
	targetFlags
	arn         *string
	alarmPrefix *string
	decider     *string
	dryRun      *bool
}

// addAWSFlags adds the AWS flags; --dry-run only to a command that changes something.
func addAWSFlags(fs flagAdder, changes bool) awsFlags {
	af := awsFlags{
		targetFlags: addTargetFlags(fs),
		arn:         fs.String("mrap-arn", "", "AWS, settings from the environment: the access point ARN arn:aws:s3::ACCOUNT:accesspoint/ALIAS and the failover function's MRAP_* variables"),
		alarmPrefix: fs.String("alarm-prefix", os.Getenv("MRAP_ALARM_PREFIX"), "AWS with --mrap-arn: health alarms are named PREFIX+TARGET-from-OBSERVER-availability in the observer's Region (env MRAP_ALARM_PREFIX)"),
		decider:     fs.String("decider", "", "AWS with --dry-run: the decider whose view the dry run takes (default: --region when it is a decider, else the first; with --mrap-arn MRAP_DECIDER or AWS_REGION)"),
		dryRun:      new(bool),
	}
	if changes {
		af.dryRun = fs.Bool("dry-run", false, "AWS: decide in-process as one decider would and print; sends, submits and writes nothing")
	}
	return af
}

// onAWS reports whether the command acts on AWS rather than the local runtime.
func (af awsFlags) onAWS() bool { return *af.arn != "" || af.discovers() }

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
	case "MRAP_DECIDER":
		if *af.decider != "" {
			return *af.decider, true
		}
	}
	return os.LookupEnv(k)
}

func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("status", "status [flags]", stderr)
	data := fs.String("data", ".local", "data folder of the local runtime")
	jsonOut := fs.Bool("json", false, "print JSON")
	watch := fs.Duration("watch", 0, "redraw every interval (such as 1s; on AWS 30s is plenty) until Ctrl-C")
	af := addAWSFlags(fs, false)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if af.onAWS() {
		return awsStatus(ctx, af, *jsonOut, *watch, stdout)
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
		wait = fs.Duration("wait", 30*time.Second, "wait up to this long for the Region(s) given traffic to be healthy (quorum OK), then apply (0: apply now); on AWS the routes and alarms are read every 15s")
	}
	reason := fs.String("reason", "", "why, for the audit log")
	outcome := fs.Duration("outcome-timeout", 60*time.Second, "AWS: wait up to this long for a decider to record the command's outcome in the state copies (0: send and return)")
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
	if af.onAWS() {
		return awsCommand(ctx, af, c, *wait, *outcome, stdout)
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

// awsWaitPoll is how often a waiting command reads the routes and alarms on AWS (the health
// alarms evaluate one-minute periods).
const awsWaitPoll = 15 * time.Second

// awsWaitStatus reads what waitHealthy needs on AWS, the dial and the quorum health of every
// member, in the shape of the local runtime's status.
func awsWaitStatus(r failover.AWSReaders) func(context.Context) (runtime.Status, error) {
	return func(ctx context.Context) (runtime.Status, error) {
		ctx, cancel := context.WithTimeout(ctx, statusTimeout)
		defer cancel()
		routes, err := r.Routes.GetRoutes(ctx)
		if err != nil {
			return runtime.Status{}, fmt.Errorf("read the routes: %w", err)
		}
		view, err := r.Health.Read(ctx)
		if err != nil {
			return runtime.Status{}, fmt.Errorf("read the health alarms: %w", err)
		}
		var st runtime.Status
		for _, rt := range routes {
			h := view.Health[rt.Region]
			st.Regions = append(st.Regions, runtime.RegionStatus{Region: rt.Region, Bucket: rt.Bucket, Dial: rt.Dial, Alarm: string(h.State), AlarmSince: h.Since})
		}
		return st, nil
	}
}
