// Package batch is the S3 Batch Operations handler of the reconciler and its configuration:
// a job over an S3 Inventory manifest invokes it per key, and it brings that key to the
// winning write in every member bucket (shared/reconcile). It is used by functions/batch,
// which only wires.
package batch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/mrap-engine/mrap/events"
	"github.com/mrap-engine/mrap/shared/reconcile"
	"github.com/mrap-engine/mrap/shared/replication"
	"github.com/mrap-engine/mrap/shared/telemetry"
)

// Result codes of an S3 Batch Operations task.
const (
	Succeeded        = "Succeeded"
	TemporaryFailure = "TemporaryFailure"
	PermanentFailure = "PermanentFailure"
)

// KeyReconciler reconciles one key across every member (a *reconcile.Runner).
type KeyReconciler interface {
	ReconcileKey(ctx context.Context, key string) ([]reconcile.Result, error)
}

// Handler translates S3 Batch Operations invocations into per-key reconciliations.
type Handler struct {
	rec     KeyReconciler
	buckets map[string]bool // member buckets: a task naming another bucket is refused
	log     *slog.Logger
	metrics *telemetry.Metrics
	// margin is the time kept before the Lambda deadline: tasks not started by then are
	// answered TemporaryFailure so S3 Batch Operations retries them.
	margin time.Duration
}

// NewHandler returns a Handler over rec for the member buckets.
func NewHandler(rec KeyReconciler, buckets []string, log *slog.Logger, metrics *telemetry.Metrics) *Handler {
	h := &Handler{rec: rec, buckets: map[string]bool{}, log: log, metrics: metrics, margin: 5 * time.Second}
	for _, b := range buckets {
		h.buckets[b] = true
	}
	return h
}

// invocation holds both schema versions of the S3 Batch Operations event (1.0 names the
// bucket by ARN, 2.0 by name).
type invocation struct {
	InvocationSchemaVersion string `json:"invocationSchemaVersion"`
	InvocationID            string `json:"invocationId"`
	Job                     struct {
		ID string `json:"id"`
	} `json:"job"`
	Tasks []struct {
		lambdaevents.S3BatchJobTask
		S3Bucket string `json:"s3Bucket"`
	} `json:"tasks"`
}

// Handle reconciles the key of every task (events.S3BatchJobEvent, schema 1.0 or 2.0) and
// answers each with Succeeded, TemporaryFailure (retryable: throttling, timeouts, a Region
// unreachable) or PermanentFailure (bad key, foreign bucket, access denied).
func (h *Handler) Handle(ctx context.Context, payload json.RawMessage) (lambdaevents.S3BatchJobResponse, error) {
	var inv invocation
	if err := json.Unmarshal(payload, &inv); err != nil {
		return lambdaevents.S3BatchJobResponse{}, fmt.Errorf("parse S3 Batch Operations event: %w", err)
	}
	if inv.InvocationID == "" || len(inv.Tasks) == 0 {
		return lambdaevents.S3BatchJobResponse{}, errors.New("parse S3 Batch Operations event: no invocation id or no task")
	}
	resp := lambdaevents.S3BatchJobResponse{
		InvocationSchemaVersion: inv.InvocationSchemaVersion,
		TreatMissingKeysAs:      PermanentFailure,
		InvocationID:            inv.InvocationID,
		Results:                 make([]lambdaevents.S3BatchJobResult, 0, len(inv.Tasks)),
	}
	counts := map[string]int{}
	planned, done := 0, 0
	for _, t := range inv.Tasks {
		bucket := t.S3Bucket
		if bucket == "" {
			bucket = bucketFromARN(t.S3BucketARN)
		}
		code, msg, p, d := h.task(ctx, inv.Job.ID, bucket, t.S3Key)
		counts[code]++
		planned += p
		done += d
		resp.Results = append(resp.Results, lambdaevents.S3BatchJobResult{TaskID: t.TaskID, ResultCode: code, ResultString: msg})
	}
	h.metrics.Emit(nil,
		telemetry.Metric{Name: "Divergence", Unit: telemetry.Count, Value: float64(planned)},
		telemetry.Metric{Name: "RepairsDone", Unit: telemetry.Count, Value: float64(done)},
		telemetry.Metric{Name: "RepairsFailed", Unit: telemetry.Count, Value: float64(counts[TemporaryFailure] + counts[PermanentFailure])},
		telemetry.Metric{Name: "KeysScanned", Unit: telemetry.Count, Value: float64(len(inv.Tasks))})
	return resp, nil
}

// task reconciles one key and returns its result code and string, repairs planned and done.
func (h *Handler) task(ctx context.Context, jobID, bucket, rawKey string) (code, msg string, planned, done int) {
	log := h.log.With("job", jobID, "bucket", bucket, "s3Key", rawKey)
	defer func() {
		if p := recover(); p != nil {
			log.Error("reconcile panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			code, msg = TemporaryFailure, fmt.Sprintf("internal error: %v", p)
		}
	}()
	if !h.buckets[bucket] {
		return PermanentFailure, fmt.Sprintf("bucket %q is not a member bucket", bucket), 0, 0
	}
	key, err := events.DecodeKey(rawKey)
	if err != nil || key == "" {
		return PermanentFailure, fmt.Sprintf("bad key %q: %v", rawKey, err), 0, 0
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < h.margin {
		return TemporaryFailure, "out of time before this task; retry", 0, 0
	}
	res, err := h.rec.ReconcileKey(ctx, key)
	var parts []string
	for _, r := range res {
		planned++
		status := string(r.Outcome.Status)
		if status == "" {
			status = "planned"
		}
		if r.Outcome.Status == replication.Replicated {
			done++
		}
		parts = append(parts, fmt.Sprintf("%s %s: %s", r.Repair.Kind, r.Repair.Region, status))
	}
	summary := "in sync"
	if len(parts) > 0 {
		summary = strings.Join(parts, "; ")
	}
	switch {
	case err == nil:
		log.Info("key reconciled", "key", key, "repairs", planned, "done", done)
		return Succeeded, summary, planned, done
	case replication.IsPermanent(err):
		log.Error("key failed", "key", key, "error", err.Error(), "permanent", true)
		return PermanentFailure, truncate(err.Error(), 900), planned, done
	default:
		log.Warn("key failed, will be retried", "key", key, "error", err.Error())
		return TemporaryFailure, truncate(err.Error(), 900), planned, done
	}
}

// bucketFromARN returns the bucket of "arn:aws:s3:::bucket" (or with Region and account).
func bucketFromARN(arn string) string {
	if i := strings.LastIndex(arn, ":"); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
