package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/mrap-engine/mrap/events"
	"github.com/mrap-engine/mrap/shared/docstore"
	"github.com/mrap-engine/mrap/shared/failover"
	"github.com/mrap-engine/mrap/shared/mrap"
	"github.com/mrap-engine/mrap/shared/routing"
)

// commandPoll is how often a command's outcome is looked for in the state copies.
const commandPoll = 2 * time.Second

// awsCommand sends c to the deciders on AWS (docs/contracts.md, "Routing commands"): after
// the health wait (--wait), one command event with a fresh command id on the default bus of
// every decider Region; then, for up to outcomeWait, it reads the decider records in the
// state copies until one of them records the command's outcome. mrapctl decides nothing and
// writes no record: the deciders do, one writer per record. A dry run sends nothing.
func awsCommand(ctx context.Context, af awsFlags, c routing.Command, wait, outcomeWait time.Duration, stdout io.Writer) error {
	t, cfg, readers, err := openAWSReaders(ctx, af)
	if err != nil {
		return err
	}
	if wait > 0 {
		if err := waitHealthy(ctx, awsWaitStatus(readers), string(c.Action), c.Region, wait, awsWaitPoll, stdout); err != nil {
			return err
		}
	}
	if *af.dryRun {
		return awsDryRun(ctx, cfg, readers, c, stdout)
	}
	c.RequestedBy = callerIdentity(ctx, t.cfg, c.RequestedBy)
	detail := events.RoutingCommandDetail{Action: string(c.Action), Region: c.Region, Reason: c.Reason, RequestedBy: c.RequestedBy, CommandID: newCommandID()}
	fmt.Fprintf(stdout, "sending command %s (%s %s) to the deciders %s ...\n", detail.CommandID, detail.Action, orNone(detail.Region), strings.Join(cfg.Deciders, ", "))
	accepted := putCommand(ctx, t.cfg, cfg.Deciders, detail, time.Now(), stdout)
	if len(accepted) == 0 {
		return fmt.Errorf("no decider Region accepted command %s: nothing is applied (mrapctl needs events:PutEvents on the default bus of %s)", detail.CommandID, strings.Join(cfg.Deciders, ", "))
	}
	if outcomeWait <= 0 {
		fmt.Fprintf(stdout, "not waiting for the outcome: mrapctl status shows the last command applied and its outcome\n")
		return nil
	}
	return awaitCommand(ctx, readers, cfg, detail.CommandID, accepted, outcomeWait, commandPoll, stdout)
}

// callerIdentity names who requests a command on AWS: the caller's ARN from
// sts:GetCallerIdentity (which needs no permission), else fallback (mrapctl:$USER).
func callerIdentity(ctx context.Context, awsCfg aws.Config, fallback string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := sts.NewFromConfig(awsCfg, func(o *sts.Options) { o.RetryMaxAttempts = 1 }).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(out.Arn) == "" {
		return fallback
	}
	return aws.ToString(out.Arn)
}

// newCommandID is a random UUID (version 4).
func newCommandID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func orNone(s string) string {
	if s == "" {
		return "(no Region)"
	}
	return s
}

// commandEntry is the PutEvents entry of a routing command: the event the deciders' rule
// matches (source mrap.engine, detail-type MRAP Routing Command) on the default bus.
func commandEntry(d events.RoutingCommandDetail, at time.Time) (ebtypes.PutEventsRequestEntry, error) {
	if err := d.Validate(); err != nil {
		return ebtypes.PutEventsRequestEntry{}, err
	}
	b, err := json.Marshal(d)
	if err != nil {
		return ebtypes.PutEventsRequestEntry{}, fmt.Errorf("encode command: %w", err)
	}
	return ebtypes.PutEventsRequestEntry{
		Source: aws.String(events.CommandSource), DetailType: aws.String(events.DetailTypeRoutingCommand),
		Detail: aws.String(string(b)), EventBusName: aws.String("default"), Time: aws.Time(at),
	}, nil
}

// putCommand puts the command on the default bus of every decider Region in parallel and
// returns the Regions that accepted it; each Region's answer is printed.
func putCommand(ctx context.Context, awsCfg aws.Config, deciders []string, d events.RoutingCommandDetail, at time.Time, stdout io.Writer) []string {
	entry, err := commandEntry(d, at)
	errs := make([]error, len(deciders))
	ids := make([]string, len(deciders))
	var wg sync.WaitGroup
	for i, region := range deciders {
		if err != nil {
			errs[i] = err
			continue
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, statusTimeout)
			defer cancel()
			client := eventbridge.NewFromConfig(awsCfg, func(o *eventbridge.Options) { o.Region = region; o.RetryMaxAttempts = 2 })
			out, err := client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{entry}})
			switch {
			case err != nil:
				errs[i] = err
			case out.FailedEntryCount > 0 || len(out.Entries) != 1 || out.Entries[0].EventId == nil:
				errs[i] = entryError(out)
			default:
				ids[i] = *out.Entries[0].EventId
			}
		})
	}
	wg.Wait()
	var accepted []string
	for i, region := range deciders {
		if errs[i] != nil {
			fmt.Fprintf(stdout, "  %s: NOT sent: %v\n", region, errs[i])
			continue
		}
		fmt.Fprintf(stdout, "  %s: on the default bus (event %s)\n", region, ids[i])
		accepted = append(accepted, region)
	}
	return accepted
}

// entryError says why PutEvents did not accept the one entry.
func entryError(out *eventbridge.PutEventsOutput) error {
	for _, e := range out.Entries {
		if e.ErrorCode != nil {
			return fmt.Errorf("entry rejected: %s: %s", aws.ToString(e.ErrorCode), aws.ToString(e.ErrorMessage))
		}
	}
	return fmt.Errorf("entry not accepted (%d failed, %d answers)", out.FailedEntryCount, len(out.Entries))
}

// commandOutcome is what the records say of command id: the decider that recorded it and
// its outcome ("" when none did yet).
type commandOutcome struct {
	decider, outcome, reason string
	intent                   bool // a decider wrote its intent but no outcome yet
}

// findCommand looks for command id in the merged records: an applied change first, then any
// other final outcome; an intent alone is not final.
func findCommand(st failover.State, deciders []string, id string) commandOutcome {
	var found commandOutcome
	for _, pass := range []func(string) bool{
		func(o string) bool { return o == "changed" },
		func(o string) bool { return o != failover.CommandIntent },
	} {
		for _, d := range deciders {
			r, ok := st.Records[d]
			if !ok || r.LastCommandID != id {
				continue
			}
			if r.LastCommandOutcome == failover.CommandIntent {
				found.intent, found.decider = true, d
				continue
			}
			if pass(r.LastCommandOutcome) {
				return commandOutcome{decider: d, outcome: r.LastCommandOutcome, reason: r.LastCommandReason}
			}
		}
	}
	return found
}

// awaitCommand reads the state copies every poll until a decider records command id, then
// prints its outcome and the routes; a refusal and the end of the wait are errors that say
// where to look.
func awaitCommand(ctx context.Context, r failover.AWSReaders, cfg failover.Config, id string, sentTo []string, wait, poll time.Duration, stdout io.Writer) error {
	fmt.Fprintf(stdout, "waiting up to %s for a decider to record command %s ...\n", wait, id)
	deadline := time.Now().Add(wait)
	var last commandOutcome
	var unread []string
	for {
		readCtx, cancel := context.WithTimeout(ctx, statusTimeout)
		unread = unread[:0]
		st := readState(readCtx, r, cfg, func(what string, err error) { unread = append(unread, fmt.Sprintf("%s (%v)", what, err)) })
		cancel()
		last = findCommand(st, cfg.Deciders, id)
		if last.outcome != "" || (last.decider != "" && !last.intent) {
			return printCommandOutcome(ctx, r.Routes, last, stdout)
		}
		remaining := time.Until(deadline)
		if remaining <= 0 {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(poll, remaining)):
		}
	}
	where := fmt.Sprintf("look at the failover function's logs (CloudWatch Logs) in %s and at mrapctl status", strings.Join(sentTo, ", "))
	if len(unread) > 0 {
		where += "; unread: " + strings.Join(unread, ", ")
	}
	if last.intent {
		return fmt.Errorf("decider %s wrote its intent for command %s but no outcome within %s (the submit of the routes failed or is still running): %s", last.decider, id, wait, where)
	}
	return fmt.Errorf("no decider recorded command %s within %s (a decider without a majority of state copies or a failed invocation records nothing): %s", id, wait, where)
}

// printCommandOutcome prints what the decider recorded and the routes as they are now.
func printCommandOutcome(ctx context.Context, routes *mrap.Client, o commandOutcome, stdout io.Writer) error {
	outcome := o.outcome
	if outcome == "" {
		outcome = "applied (this decider records no outcome)"
	}
	fmt.Fprintf(stdout, "decider %s: %s\n", o.decider, outcome)
	if o.outcome == "refused" {
		fmt.Fprintln(stdout, "refused:", o.reason)
		return exitCode(1)
	}
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	current, err := routes.GetRoutes(ctx)
	if err != nil {
		return fmt.Errorf("command applied by decider %s (%s), but the routes could not be read back: %w", o.decider, o.reason, err)
	}
	if o.outcome == "changed" {
		fmt.Fprintln(stdout, "submitted (AWS applies route changes within about 2 minutes)")
	}
	return printDecision(stdout, o.outcome == "changed", false, o.reason, mrap.Dials(current))
}

// awsDryRun decides c as decider cfg.Decider would, over a read-only view: the state copies
// refuse writes, no audit is sent, no routes are submitted, no event is put.
func awsDryRun(ctx context.Context, cfg failover.Config, r failover.AWSReaders, c routing.Command, stdout io.Writer) error {
	copies := failover.StateCopies{}
	for region, s := range r.Copies {
		copies[region] = readOnly{s}
	}
	engine, err := failover.New(r.Routes, r.Health, copies, failover.Options{
		Regions: cfg.Regions(), Policy: cfg.Policy, Decider: cfg.Decider, Deciders: cfg.Deciders, Prefix: cfg.StatePrefix,
		LeaseTTL: cfg.LeaseTTL, ViewBound: cfg.ViewBound, MaxSkew: cfg.MaxSkew, DryRun: true,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "dry run: reading routes, alarms and the failover state as decider %s would; nothing is sent or written ...\n", cfg.Decider)
	out, err := engine.Evaluate(ctx, failover.CommandTrigger(c, "mrapctl-dry-run-"+newCommandID(), time.Now()))
	if err != nil {
		return err
	}
	return printDecision(stdout, false, out.Refused || out.Ignored, out.Reason, out.Routes)
}

// errReadOnly is the answer of a read-only state copy to a write.
var errReadOnly = errors.New("dry run: the state copies are read-only")

// readOnly is a state copy that reads and refuses every write.
type readOnly struct{ docstore.Store }

// Put implements docstore.Store: it writes nothing.
func (readOnly) Put(context.Context, string, []byte, docstore.Cond) (string, error) {
	return "", errReadOnly
}
