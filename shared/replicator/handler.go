// Package replicator is the replicator function's handler: it translates Lambda invocations
// (SQS batches with partial batch failures, direct EventBridge invocations, S3 and SNS
// notifications) into replication engine calls, and results into responses, JSON logs and
// EMF metrics (docs/contracts.md, "Metrics"). functions/replicator wires it for Lambda; the
// local runtime (shared/local/runtime) feeds it the bridged bucket notifications.
package replicator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/mrap-engine/mrap/events"
	"github.com/mrap-engine/mrap/shared/replication"
	"github.com/mrap-engine/mrap/shared/telemetry"
)

// Applier replicates one object change (a *replication.Engine).
type Applier interface {
	Apply(ctx context.Context, change events.ObjectChange) (replication.Result, error)
}

// Skip reason of messages that carry no object change (s3:TestEvent, other event types):
// acknowledged, logged and counted, never retried.
const skipNotObjectChange = "not-an-object-change"

// Options configure a Handler. The zero value of every field has a usable default.
type Options struct {
	// Logger receives one line per destination and per failed change (default: discard).
	Logger *slog.Logger
	// Metrics receives the EMF lines (default: discarded).
	Metrics *telemetry.Metrics
	// Region is the function's own Region: the Region dimension of metrics about messages
	// that name none (unparsable ones).
	Region string
	// Concurrency bounds the SQS records worked on at once (default 8).
	Concurrency int
	// Now is the clock of ReplicationLatency (default time.Now).
	Now func() time.Time
	// Observe, when set, is called after each change is applied, with its result and error
	// (the local runtime records its replication latency there).
	Observe func(ctx context.Context, change events.ObjectChange, res replication.Result, err error)
}

// Handler translates Lambda invocations into engine calls and results into responses, logs
// and metrics.
type Handler struct {
	engine Applier
	opts   Options
}

// New returns a Handler over engine. optFns adjust opts.
func New(engine Applier, opts Options, optFns ...func(*Options)) (*Handler, error) {
	for _, fn := range optFns {
		fn(&opts)
	}
	if engine == nil {
		return nil, errors.New("replicator: nil engine")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Metrics == nil {
		opts.Metrics = telemetry.NewMetrics(io.Discard, telemetry.DefaultNamespace)
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 8
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Handler{engine: engine, opts: opts}, nil
}

// sqsProbe tells an SQS batch from the other invocation shapes.
type sqsProbe struct {
	Records []struct {
		EventSource string `json:"eventSource"`
	} `json:"Records"`
}

// Handle is the Lambda entry point. An SQS batch (EventBridge rule -> SQS -> Lambda) returns
// an SQSEventResponse listing only the records that failed, so SQS retries just those (the
// event source mapping must enable ReportBatchItemFailures). Any other payload (a direct
// EventBridge invocation, an S3 or SNS event) is applied whole and returns an error when any
// change failed, so Lambda retries it and then sends it to the on-failure destination.
func (h *Handler) Handle(ctx context.Context, payload json.RawMessage) (any, error) {
	var probe sqsProbe
	if err := json.Unmarshal(payload, &probe); err == nil && len(probe.Records) > 0 && probe.Records[0].EventSource == "aws:sqs" {
		var batch lambdaevents.SQSEvent
		if err := json.Unmarshal(payload, &batch); err != nil {
			return nil, fmt.Errorf("parse SQS batch: %w", err)
		}
		return h.HandleSQS(ctx, batch), nil
	}
	return nil, h.HandleMessage(ctx, payload, "")
}

// HandleSQS applies every record of a batch and reports the failed ones.
func (h *Handler) HandleSQS(ctx context.Context, batch lambdaevents.SQSEvent) lambdaevents.SQSEventResponse {
	resp := lambdaevents.SQSEventResponse{BatchItemFailures: []lambdaevents.SQSBatchItemFailure{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, h.opts.Concurrency)
	for _, rec := range batch.Records {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := h.HandleMessage(ctx, []byte(rec.Body), rec.MessageId); err != nil {
				mu.Lock()
				resp.BatchItemFailures = append(resp.BatchItemFailures, lambdaevents.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sort.Slice(resp.BatchItemFailures, func(i, j int) bool {
		return resp.BatchItemFailures[i].ItemIdentifier < resp.BatchItemFailures[j].ItemIdentifier
	})
	return resp
}

// HandleMessage parses one message (an EventBridge envelope, an S3 or SNS notification; the
// body of one SQS record) and applies its changes; messageID, when known, goes into the logs.
// A message that carries no object change is acknowledged (nil). The error joins the failed
// changes; replication.IsPermanent tells the ones retrying cannot fix. It never panics.
func (h *Handler) HandleMessage(ctx context.Context, body []byte, messageID string) (err error) {
	log := h.opts.Logger
	if messageID != "" {
		log = log.With("messageId", messageID)
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic while replicating: %v", p)
			log.ErrorContext(ctx, "replication panicked", "error", err, "stack", string(debug.Stack()))
			h.opts.Metrics.Emit(map[string]string{"Region": h.opts.Region}, telemetry.Metric{Name: "Failed", Unit: telemetry.Count, Value: 1})
		}
	}()
	changes, err := events.ParseObjectChanges(body)
	if errors.Is(err, events.ErrNotObjectChange) {
		log.InfoContext(ctx, "message carries no object change; acknowledged", "reason", err.Error())
		h.opts.Metrics.Emit(map[string]string{"Region": h.opts.Region, "Reason": skipNotObjectChange}, telemetry.Metric{Name: "Skipped", Unit: telemetry.Count, Value: 1})
		return nil
	}
	if err != nil {
		log.ErrorContext(ctx, "malformed message", "error", err.Error(), "permanent", true, "body", truncate(string(body), 2048))
		h.opts.Metrics.Emit(map[string]string{"Region": h.opts.Region}, telemetry.Metric{Name: "Failed", Unit: telemetry.Count, Value: 1})
		return replication.Permanent(err)
	}
	var errs []error
	for _, c := range changes {
		if err := h.apply(ctx, log, c); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (h *Handler) apply(ctx context.Context, log *slog.Logger, c events.ObjectChange) error {
	res, err := h.engine.Apply(ctx, c)
	if h.opts.Observe != nil {
		h.opts.Observe(ctx, c, res, err)
	}
	attrs := []any{
		"region", c.Region, "bucket", c.Bucket, "key", res.Key, "versionId", c.VersionID, "kind", string(c.Kind),
		"reason", c.Reason, "sequencer", c.Sequencer,
	}
	skipped := map[string]int{}
	for _, o := range res.Destinations {
		a := []any{"destination", o.Region, "status", string(o.Status), "action", string(o.Action), "bytes", o.Bytes}
		switch o.Status {
		case replication.Skipped:
			skipped[o.Reason]++
			log.InfoContext(ctx, "destination skipped", append(append(a, "skipReason", o.Reason), attrs...)...)
		case replication.Failed:
			log.ErrorContext(ctx, "destination failed", append(append(a, "error", errString(o.Err), "permanent", replication.IsPermanent(o.Err)), attrs...)...)
		default:
			log.InfoContext(ctx, "destination replicated", append(a, attrs...)...)
		}
	}
	region := c.Region
	if region == "" {
		region = h.opts.Region
	}
	dims := map[string]string{"Region": region}
	ms := []telemetry.Metric{
		{Name: "Replicated", Unit: telemetry.Count, Value: float64(res.Count(replication.Replicated))},
		{Name: "Failed", Unit: telemetry.Count, Value: float64(res.Count(replication.Failed))},
		{Name: "BytesReplicated", Unit: telemetry.Bytes, Value: float64(res.Bytes())},
	}
	if res.Count(replication.Replicated) > 0 && !c.EventTime.IsZero() {
		ms = append(ms, telemetry.Metric{Name: "ReplicationLatency", Unit: telemetry.Milliseconds, Value: float64(h.opts.Now().Sub(c.EventTime).Milliseconds())})
	}
	h.opts.Metrics.Emit(dims, ms...)
	for reason, n := range skipped {
		h.opts.Metrics.Emit(map[string]string{"Region": region, "Reason": reason}, telemetry.Metric{Name: "Skipped", Unit: telemetry.Count, Value: float64(n)})
	}
	if err != nil {
		log.ErrorContext(ctx, "object change failed", append(attrs, "error", err.Error(), "permanent", replication.IsPermanent(err))...)
		return fmt.Errorf("replicate %s %s/%q version %s: %w", c.Kind, c.Bucket, c.Key, c.VersionID, err)
	}
	return nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
