package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/mrap-engine/mrap/shared/deployment"
	"github.com/mrap-engine/mrap/shared/failover"
	"github.com/mrap-engine/mrap/shared/routing"
	"github.com/mrap-engine/mrap/shared/telemetry"
)

// awsStatusReport is what `mrapctl status` shows of a deployment on AWS (--json prints it):
// the routes, the quorum health and its observer x target matrix, each Region's replication
// backlog and latency, each decider's record and the last change.
type awsStatusReport struct {
	Name         string            `json:"name,omitempty"`
	MRAPARN      string            `json:"mrap_arn"`
	Source       string            `json:"source"`
	Regions      []awsRegionStatus `json:"regions"`
	Observations []awsObservation  `json:"observations"`
	// Unreadable are the observers whose alarms could not be read, with the cause.
	Unreadable   map[string]string  `json:"unreadable_observers,omitempty"`
	Deciders     []awsDeciderStatus `json:"deciders"`
	LastChange   time.Time          `json:"last_change,omitzero"`
	LastChangeBy string             `json:"last_change_by,omitempty"`
	LastReason   string             `json:"last_reason,omitempty"`
	Overrides    routing.Overrides  `json:"overrides,omitzero"`
	// LastCommand is the latest routing command a decider applied and what came of it.
	LastCommand *awsCommandStatus `json:"last_command,omitempty"`
	// Problems are the reads that failed; the rest of the report stands.
	Problems []string `json:"problems,omitempty"`
}

// awsObservation is one cell of the observer x target matrix: the state of the health alarm
// {prefix}{target}-from-{observer}-availability.
type awsObservation struct {
	Observer string        `json:"observer"`
	Target   string        `json:"target"`
	Alarm    routing.State `json:"alarm"`
	Since    time.Time     `json:"alarm_since,omitzero"`
}

// awsRegionStatus is one member Region.
type awsRegionStatus struct {
	Region      string        `json:"region"`
	Bucket      string        `json:"bucket"`
	Dial        *int          `json:"dial"`
	Health      routing.State `json:"health,omitempty"`
	HealthSince time.Time     `json:"health_since,omitzero"`
	// Backlog (visible), InFlight (being replicated) and DeadLetters of its replication queue.
	Backlog     *int64 `json:"backlog,omitempty"`
	InFlight    *int64 `json:"in_flight,omitempty"`
	DeadLetters *int64 `json:"dead_letters,omitempty"`
	// Replication of writes from this Region over the last 15 minutes (CloudWatch).
	LatencyAvgMs  *float64 `json:"replication_latency_avg_ms,omitempty"`
	LatencyMaxMs  *float64 `json:"replication_latency_max_ms,omitempty"`
	Replicated15m *float64 `json:"replicated_15m,omitempty"`
}

// awsCommandStatus is the latest command in the merged records.
type awsCommandStatus struct {
	ID      string    `json:"command_id"`
	At      time.Time `json:"at,omitzero"`
	By      string    `json:"applied_by"`
	Outcome string    `json:"outcome,omitempty"`
	Reason  string    `json:"reason,omitempty"`
}

// awsDeciderStatus is one decider's record, as merged from the state copies.
type awsDeciderStatus struct {
	Region       string                `json:"region"`
	Heartbeat    time.Time             `json:"heartbeat,omitzero"`
	LastChange   time.Time             `json:"last_change,omitzero"`
	LastDecision failover.LastDecision `json:"last_decision,omitzero"`
}

// statusTimeout bounds each read of the status.
const statusTimeout = 15 * time.Second

func awsStatus(ctx context.Context, af awsFlags, jsonOut bool, watch time.Duration, stdout io.Writer) error {
	t, cfg, readers, err := openAWSReaders(ctx, af)
	if err != nil {
		return err
	}
	for {
		rep := readAWSStatus(ctx, t, cfg, readers)
		switch {
		case jsonOut:
			if err := writeJSON(stdout, rep); err != nil {
				return err
			}
		case watch > 0:
			fmt.Fprint(stdout, "\033[H\033[2J") // clear the terminal
			fmt.Fprintf(stdout, "%s  (every %s, Ctrl-C to stop)\n", time.Now().Format(time.TimeOnly), watch)
			fallthrough
		default:
			printAWSStatus(stdout, rep)
		}
		if watch <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(watch):
		}
	}
}

// readAWSStatus reads every part of the status in parallel, each bounded; a part that fails
// is a problem in the report, not an error.
func readAWSStatus(ctx context.Context, t *awsTarget, cfg failover.Config, readers failover.AWSReaders) awsStatusReport {
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	rep := awsStatusReport{MRAPARN: cfg.ARN, Source: "the environment (--mrap-arn)"}
	if t.dep != nil {
		rep.Name, rep.Source = t.dep.Settings.Name, t.dep.Source
	}
	for _, m := range cfg.Members {
		rep.Regions = append(rep.Regions, awsRegionStatus{Region: m.Region, Bucket: m.Bucket})
	}
	var mu sync.Mutex
	problem := func(what string, err error) {
		mu.Lock()
		defer mu.Unlock()
		rep.Problems = append(rep.Problems, fmt.Sprintf("%s: %v", what, err))
	}
	var wg sync.WaitGroup
	wg.Go(func() { readRoutes(ctx, readers, &rep, problem) })
	wg.Go(func() { readHealth(ctx, readers, &rep, problem) })
	wg.Go(func() { readDeciders(ctx, readers, cfg, &rep, problem) })
	queues := statusQueues(t)
	for i := range rep.Regions {
		r := &rep.Regions[i]
		if q, ok := queues[r.Region]; ok {
			wg.Go(func() { readBacklog(ctx, t.cfg, q, r, problem) })
		}
		wg.Go(func() { readLatency(ctx, t.cfg, cfg.MetricNamespace, r, problem) })
	}
	wg.Wait()
	slices.Sort(rep.Problems)
	return rep
}

func readRoutes(ctx context.Context, r failover.AWSReaders, rep *awsStatusReport, problem func(string, error)) {
	routes, err := r.Routes.GetRoutes(ctx)
	if err != nil {
		problem("routes", err)
		return
	}
	for _, rt := range routes {
		for i := range rep.Regions {
			if rep.Regions[i].Region == rt.Region {
				rep.Regions[i].Dial = &rt.Dial
			}
		}
	}
}

func readHealth(ctx context.Context, r failover.AWSReaders, rep *awsStatusReport, problem func(string, error)) {
	view, err := r.Health.Read(ctx)
	if err != nil {
		problem("health alarms", err)
		return
	}
	rep.Unreadable = view.Unreadable
	for _, o := range view.Matrix {
		rep.Observations = append(rep.Observations, awsObservation{Observer: o.Observer, Target: o.Target, Alarm: o.State, Since: o.Since})
	}
	for i := range rep.Regions {
		if h, ok := view.Health[rep.Regions[i].Region]; ok {
			rep.Regions[i].Health, rep.Regions[i].HealthSince = h.State, h.Since
		}
	}
	if !view.HasQuorum() {
		problem("health alarms", fmt.Errorf("no quorum: %s", view.Counted()))
	}
}

// readDeciders reads the decider records in every state copy (failover.ReadRecords, as a
// decider does) and merges them.
func readDeciders(ctx context.Context, r failover.AWSReaders, cfg failover.Config, rep *awsStatusReport, problem func(string, error)) {
	st := readState(ctx, r, cfg, problem)
	rep.LastChange, rep.LastChangeBy, rep.LastReason, rep.Overrides = st.LastChange, st.LastChangeBy, st.LastReason, st.Overrides
	if st.LastCommandID != "" {
		rep.LastCommand = &awsCommandStatus{ID: st.LastCommandID, At: st.LastCommandAt, By: st.LastCommandBy, Outcome: st.LastCommandOutcome, Reason: st.LastCommandReason}
	}
	for _, d := range cfg.Deciders {
		rec := st.Records[d]
		rep.Deciders = append(rep.Deciders, awsDeciderStatus{Region: d, Heartbeat: rec.Heartbeat, LastChange: rec.LastChange, LastDecision: rec.LastDecision})
	}
}

// readState reads every state copy in parallel and merges the records read; a copy that
// cannot be read is passed to problem.
func readState(ctx context.Context, r failover.AWSReaders, cfg failover.Config, problem func(string, error)) failover.State {
	regions := slices.Sorted(maps.Keys(r.Copies))
	recs := make([][]failover.Record, len(regions))
	errs := make([]error, len(regions))
	var wg sync.WaitGroup
	for i, region := range regions {
		wg.Go(func() { recs[i], errs[i] = failover.ReadRecords(ctx, r.Copies[region], cfg.StatePrefix, cfg.Deciders) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			problem("state copy "+regions[i], err)
		}
	}
	return failover.Merge(slices.Concat(recs...))
}

// statusQueues are the replication queues by Region: discovered, or with --mrap-arn from
// MRAP_REPLICATOR_QUEUE_ARNS / MRAP_REPLICATOR_DLQ_ARNS (those of redrive).
func statusQueues(t *awsTarget) map[string]deployment.Queue {
	out := map[string]deployment.Queue{}
	if t.dep != nil {
		for _, q := range t.dep.Queues() {
			out[q.Region] = q
		}
		return out
	}
	for _, pair := range [][2]string{{"MRAP_REPLICATOR_QUEUE_ARNS", "queue"}, {"MRAP_REPLICATOR_DLQ_ARNS", "dlq"}} {
		for _, s := range strings.Split(os.Getenv(pair[0]), ",") {
			a, err := arn.Parse(strings.TrimSpace(s))
			if err != nil {
				continue
			}
			q := out[a.Region]
			q.Region = a.Region
			if pair[1] == "queue" {
				q.QueueARN = a.String()
			} else {
				q.DeadLetter = a.String()
			}
			out[a.Region] = q
		}
	}
	return out
}

// readBacklog reads the approximate depth of the Region's replication queue and DLQ.
func readBacklog(ctx context.Context, cfg aws.Config, q deployment.Queue, r *awsRegionStatus, problem func(string, error)) {
	client := sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.Region = r.Region; o.RetryMaxAttempts = 2 })
	if q.QueueARN != "" {
		attrs, err := queueAttributes(ctx, client, q.QueueARN)
		if err != nil {
			problem("replication queue "+r.Region, err)
		} else {
			r.Backlog, r.InFlight = attrs[0], attrs[1]
		}
	}
	if q.DeadLetter != "" {
		attrs, err := queueAttributes(ctx, client, q.DeadLetter)
		if err != nil {
			problem("dead-letter queue "+r.Region, err)
		} else {
			r.DeadLetters = attrs[0]
		}
	}
}

// queueAttributes returns ApproximateNumberOfMessages and ...NotVisible of the queue.
func queueAttributes(ctx context.Context, client *sqs.Client, queueARN string) ([2]*int64, error) {
	a, err := arn.Parse(queueARN)
	if err != nil {
		return [2]*int64{}, fmt.Errorf("%q is not a queue ARN", queueARN)
	}
	u, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(a.Resource), QueueOwnerAWSAccountId: aws.String(a.AccountID)})
	if err != nil {
		return [2]*int64{}, fmt.Errorf("queue %s: %w", a.Resource, err)
	}
	out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: u.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{
		sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		return [2]*int64{}, fmt.Errorf("queue %s: %w", a.Resource, err)
	}
	var res [2]*int64
	for i, k := range []string{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"} {
		if n, err := strconv.ParseInt(out.Attributes[k], 10, 64); err == nil {
			res[i] = &n
		}
	}
	return res, nil
}

// readLatency reads the replicator's ReplicationLatency (average, maximum) and Replicated
// (sum) of the last 15 minutes in the Region (GetMetricData, one 15-minute period).
func readLatency(ctx context.Context, cfg aws.Config, namespace string, r *awsRegionStatus, problem func(string, error)) {
	if namespace == "" {
		namespace = telemetry.DefaultNamespace
	}
	client := cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) { o.Region = r.Region; o.RetryMaxAttempts = 2 })
	end := time.Now().Truncate(time.Minute)
	query := func(id, metric string, stat cwtypes.Statistic) cwtypes.MetricDataQuery {
		return cwtypes.MetricDataQuery{Id: aws.String(id), MetricStat: &cwtypes.MetricStat{Period: aws.Int32(900), Stat: aws.String(string(stat)),
			Metric: &cwtypes.Metric{Namespace: aws.String(namespace), MetricName: aws.String(metric),
				Dimensions: []cwtypes.Dimension{{Name: aws.String("Region"), Value: aws.String(r.Region)}}}}}
	}
	out, err := client.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{StartTime: aws.Time(end.Add(-15 * time.Minute)), EndTime: aws.Time(end),
		MetricDataQueries: []cwtypes.MetricDataQuery{
			query("avg", "ReplicationLatency", cwtypes.StatisticAverage), query("max", "ReplicationLatency", cwtypes.StatisticMaximum),
			query("sum", "Replicated", cwtypes.StatisticSum)}})
	if err != nil {
		problem("replication metrics "+r.Region, err)
		return
	}
	for _, res := range out.MetricDataResults {
		if len(res.Values) == 0 {
			continue
		}
		v := res.Values[0]
		switch aws.ToString(res.Id) {
		case "avg":
			r.LatencyAvgMs = &v
		case "max":
			r.LatencyMaxMs = &v
		case "sum":
			r.Replicated15m = &v
		}
	}
}

func printAWSStatus(w io.Writer, rep awsStatusReport) {
	fmt.Fprintf(w, "access point %s (AWS)\nsettings from %s\n\n", rep.MRAPARN, rep.Source)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tDIAL\tHEALTH\tSINCE\tBACKLOG\tIN FLIGHT\tDEAD LETTERS\tREPLICATED 15m\tREPL. LATENCY avg/max\tBUCKET")
	for _, r := range rep.Regions {
		since, lat := "-", "-"
		if !r.HealthSince.IsZero() {
			since = r.HealthSince.UTC().Format(time.RFC3339)
		}
		if r.LatencyAvgMs != nil && r.LatencyMaxMs != nil {
			lat = fmt.Sprintf("%.0fms/%.0fms", *r.LatencyAvgMs, *r.LatencyMaxMs)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Region, orUnknown(r.Dial), orDash(string(r.Health)), since,
			orUnknown(r.Backlog), orUnknown(r.InFlight), orUnknown(r.DeadLetters), orUnknown(r.Replicated15m), lat, r.Bucket)
	}
	tw.Flush()
	printAWSMatrix(w, rep)
	printAWSDeciders(w, rep)
	if rep.Overrides.Pinned != "" || len(rep.Overrides.Drained) > 0 {
		fmt.Fprintf(w, "overrides: pinned %s, drained %s (clear with `mrapctl failback`)\n", orDash(rep.Overrides.Pinned), orDash(strings.Join(rep.Overrides.Drained, ",")))
	}
	if !rep.LastChange.IsZero() {
		fmt.Fprintf(w, "last routing change %s by the decider in %s: %s\n", rep.LastChange.UTC().Format(time.RFC3339), rep.LastChangeBy, rep.LastReason)
	}
	if c := rep.LastCommand; c != nil {
		fmt.Fprintf(w, "last command %s (%s) applied by the decider in %s: %s: %s\n", c.ID, c.At.UTC().Format(time.RFC3339), c.By, orDash(c.Outcome), orDash(c.Reason))
	}
	if len(rep.Problems) > 0 {
		fmt.Fprintln(w, "\nnot read (the rest stands):")
		for _, p := range rep.Problems {
			fmt.Fprintln(w, "  "+p)
		}
	}
}

// printAWSMatrix prints each observer's alarm about each member, as the deciders count it.
func printAWSMatrix(w io.Writer, rep awsStatusReport) {
	cells := map[[2]string]string{}
	observers := map[string]bool{}
	for _, o := range rep.Observations {
		cells[[2]string{o.Observer, o.Target}] = string(o.Alarm)
		observers[o.Observer] = true
	}
	for o := range rep.Unreadable {
		observers[o] = true
	}
	if len(observers) == 0 {
		return
	}
	fmt.Fprintln(w, "\nobserver x target (health alarm {prefix}{target}-from-{observer}-availability):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "  FROM \\ TO")
	for _, r := range rep.Regions {
		fmt.Fprintf(tw, "\t%s", r.Region)
	}
	fmt.Fprintln(tw)
	for _, o := range slices.Sorted(maps.Keys(observers)) {
		fmt.Fprintf(tw, "  %s", o)
		for _, r := range rep.Regions {
			c, ok := cells[[2]string{o, r.Region}]
			switch {
			case rep.Unreadable[o] != "":
				c = "UNREADABLE"
			case !ok:
				c = "-"
			}
			fmt.Fprintf(tw, "\t%s", c)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}

func printAWSDeciders(w io.Writer, rep awsStatusReport) {
	if len(rep.Deciders) == 0 {
		return
	}
	fmt.Fprintln(w, "\ndeciders (control Regions, in order; their records in the state copies):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, d := range rep.Deciders {
		beat, at := "no record", "-"
		if !d.Heartbeat.IsZero() {
			beat = "heartbeat " + d.Heartbeat.UTC().Format(time.RFC3339)
		}
		if !d.LastDecision.Time.IsZero() {
			at = d.LastDecision.Time.UTC().Format(time.RFC3339)
		}
		what := strings.TrimSpace(d.LastDecision.Kind + " " + d.LastDecision.Outcome)
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", d.Region, beat, at, orDash(what), orDash(d.LastDecision.Reason))
	}
	tw.Flush()
}

// orUnknown prints a value read, or "?" when it could not be.
func orUnknown[T int | int64 | float64](v *T) string {
	if v == nil {
		return "?"
	}
	return fmt.Sprintf("%v", *v)
}
