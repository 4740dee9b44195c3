package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/mrap-engine/mrap/shared/deployment"
	"github.com/mrap-engine/mrap/shared/local/runtime"
)

// MoveTaskAPI is the part of *sqs.Client that redrives a dead-letter queue.
type MoveTaskAPI interface {
	StartMessageMoveTask(ctx context.Context, in *sqs.StartMessageMoveTaskInput, optFns ...func(*sqs.Options)) (*sqs.StartMessageMoveTaskOutput, error)
	ListMessageMoveTasks(ctx context.Context, in *sqs.ListMessageMoveTasksInput, optFns ...func(*sqs.Options)) (*sqs.ListMessageMoveTasksOutput, error)
}

// cmdRedrive replays the replicator's dead letters: the local runtime's dead-letter file, or
// on AWS each replicator DLQ back to its source queue (SQS message move task).
func cmdRedrive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("redrive", "redrive [flags]", stderr)
	data := fs.String("data", ".local", "data folder of the local runtime")
	dlqs := fs.String("dlq-arn", os.Getenv("MRAP_REPLICATOR_DLQ_ARNS"), "AWS: replicator dead-letter queue ARNs, comma-separated, one per Region (env MRAP_REPLICATOR_DLQ_ARNS)")
	dests := fs.String("queue-arn", os.Getenv("MRAP_REPLICATOR_QUEUE_ARNS"), "AWS: replication queue ARNs, comma-separated; each DLQ is moved to the queue of its Region (needed for messages EventBridge dead-lettered, which have no source queue; default: each message's source queue)")
	rate := fs.Int("rate", 0, "AWS: most messages moved per second per queue (0: SQS decides, at most 500)")
	wait := fs.Duration("wait", 0, "AWS: wait up to this long for the moves to finish, printing progress")
	tf := addTargetFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		fs.Usage()
		return fmt.Errorf("redrive takes no arguments, got %q", strings.Join(pos, " "))
	}
	if *rate < 0 || *rate > 500 {
		return fmt.Errorf("--rate %d: want 0 to 500 messages per second", *rate)
	}
	var awsCfg aws.Config
	if tf.discovers() {
		if awsCfg, err = tf.loadAWS(ctx); err != nil {
			return err
		}
		dep, err := tf.discover(ctx, awsCfg)
		if err != nil {
			return err
		}
		*dlqs, *dests = queueLists(dep.Queues())
	}
	if *dlqs == "" {
		l, err := openLocal(*data)
		if err != nil {
			return err
		}
		var out struct {
			Redriven int `json:"redriven"`
		}
		if err := l.do(ctx, http.MethodPost, runtime.PathRedrive, nil, &out); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "redrove %d dead-lettered events to the replicator (watch them with `mrapctl status`)\n", out.Redriven)
		return nil
	}
	queues, err := parseQueueARNs(*dlqs)
	if err != nil {
		return err
	}
	to := map[string]string{}
	if *dests != "" {
		ds, err := parseQueueARNs(*dests)
		if err != nil {
			return fmt.Errorf("--queue-arn: %w", err)
		}
		for _, d := range ds {
			to[d.Region] = d.String()
		}
		for _, q := range queues {
			if to[q.Region] == "" {
				return fmt.Errorf("--queue-arn has no queue in %s for %s", q.Region, q)
			}
		}
	}
	if !tf.discovers() {
		if awsCfg, err = tf.loadAWS(ctx); err != nil {
			return err
		}
	}
	clients := map[string]MoveTaskAPI{}
	for _, q := range queues {
		if _, ok := clients[q.Region]; !ok {
			clients[q.Region] = sqs.NewFromConfig(awsCfg, func(o *sqs.Options) { o.Region = q.Region })
		}
	}
	return redriveAWS(ctx, clients, queues, to, int32(*rate), *wait, 5*time.Second, stdout)
}

// queueLists renders the deployment's dead-letter queues and the queue of each one's Region
// as --dlq-arn and --queue-arn would give them.
func queueLists(qs []deployment.Queue) (dlqs, dests string) {
	var d, q []string
	for _, x := range qs {
		d, q = append(d, x.DeadLetter), append(q, x.QueueARN)
	}
	return strings.Join(d, ","), strings.Join(q, ",")
}

// parseQueueARNs parses comma-separated SQS queue ARNs.
func parseQueueARNs(s string) ([]arn.ARN, error) {
	var out []arn.ARN
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		a, err := arn.Parse(item)
		if err != nil || a.Service != "sqs" || a.Region == "" || a.Resource == "" {
			return nil, fmt.Errorf("%q is not an SQS queue ARN (arn:aws:sqs:REGION:ACCOUNT:NAME)", item)
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, errors.New("no dead-letter queue ARN given")
	}
	return out, nil
}

// redriveAWS starts one message move task per dead-letter queue, to the queue of its Region
// in to (default: back to the queue each message came from), and, with wait > 0, polls them
// until they end.
func redriveAWS(ctx context.Context, clients map[string]MoveTaskAPI, queues []arn.ARN, to map[string]string, rate int32, wait, poll time.Duration, stdout io.Writer) error {
	var errs []error
	var started []arn.ARN
	for _, q := range queues {
		in := &sqs.StartMessageMoveTaskInput{SourceArn: aws.String(q.String())}
		if rate > 0 {
			in.MaxNumberOfMessagesPerSecond = aws.Int32(rate)
		}
		if d := to[q.Region]; d != "" {
			in.DestinationArn = aws.String(d)
		}
		out, err := clients[q.Region].StartMessageMoveTask(ctx, in)
		if err != nil {
			errs = append(errs, fmt.Errorf("redrive %s: %w", q, err))
			continue
		}
		started = append(started, q)
		dest := "their source queue"
		if d := to[q.Region]; d != "" {
			dest = d
		}
		fmt.Fprintf(stdout, "%s/%s: moving messages to %s (task %s)\n", q.Region, q.Resource, dest, aws.ToString(out.TaskHandle))
	}
	deadline := time.Now().Add(wait)
	for len(started) > 0 && wait > 0 {
		var running []arn.ARN
		for _, q := range started {
			out, err := clients[q.Region].ListMessageMoveTasks(ctx, &sqs.ListMessageMoveTasksInput{SourceArn: aws.String(q.String()), MaxResults: aws.Int32(1)})
			if err != nil || len(out.Results) == 0 {
				errs = append(errs, fmt.Errorf("progress of %s: %v", q, err))
				continue
			}
			t := out.Results[0]
			status := aws.ToString(t.Status)
			fmt.Fprintf(stdout, "%s/%s: %s, %d moved of %d\n", q.Region, q.Resource, status, t.ApproximateNumberOfMessagesMoved, aws.ToInt64(t.ApproximateNumberOfMessagesToMove))
			switch status {
			case "RUNNING", "CANCELLING":
				running = append(running, q)
			case "FAILED":
				errs = append(errs, fmt.Errorf("redrive %s failed: %s", q, aws.ToString(t.FailureReason)))
			}
		}
		started = running
		if len(started) == 0 {
			break
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(stdout, "%d move task(s) still running; they go on without mrapctl\n", len(started))
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
	return errors.Join(errs...)
}
