// Package reconciler is the reconciler function's handler and configuration: each scheduled
// invocation continues the reconcile pass (shared/reconcile) from its checkpoint within a time
// budget bounded by the Lambda deadline, and publishes the Divergence metrics. It is used by
// functions/reconciler, which only wires.
package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/mrap-engine/mrap/shared/reconcile"
	"github.com/mrap-engine/mrap/shared/telemetry"
)

// Runner runs one reconcile pass or part of one (a *reconcile.Runner).
type Runner interface {
	Run(ctx context.Context) (reconcile.Summary, error)
}

// NewRunner builds a runner whose run stops at the first batch boundary after budget.
type NewRunner func(budget time.Duration) (Runner, error)

// Handler runs the scheduled anti-entropy pass within each invocation's time budget.
type Handler struct {
	newRunner NewRunner
	budget    time.Duration // configured budget per invocation
	margin    time.Duration // kept before the Lambda deadline
	log       *slog.Logger
	metrics   *telemetry.Metrics
	now       func() time.Time
}

// NewHandler returns a Handler; budget bounds each invocation (the Lambda deadline minus a
// margin bounds it too).
func NewHandler(newRunner NewRunner, budget time.Duration, log *slog.Logger, metrics *telemetry.Metrics) *Handler {
	return &Handler{newRunner: newRunner, budget: budget, margin: 30 * time.Second, log: log, metrics: metrics, now: time.Now}
}

// Report is what one invocation did.
type Report struct {
	Complete       bool   `json:"complete"`
	Resumed        bool   `json:"resumed"`
	After          string `json:"after,omitempty"`
	KeysScanned    int64  `json:"keys_scanned"`
	DivergentKeys  int64  `json:"divergent_keys"`
	RepairsPlanned int64  `json:"repairs_planned"`
	RepairsDone    int64  `json:"repairs_done"`
	RepairsFailed  int64  `json:"repairs_failed"`
	// Reads are the object reads (HEAD, marker records, tag sets); KeysSettledByIndex the keys
	// found converged by the verified-versions index without one.
	Reads               int64 `json:"reads"`
	KeysSettledByIndex  int64 `json:"keys_settled_by_index"`
	IndexChunksRead     int64 `json:"index_chunks_read"`
	IndexChunksWritten  int64 `json:"index_chunks_written"`
	IndexChunksRejected int64 `json:"index_chunks_rejected"`
}

// Handle runs the pass from its checkpoint until the end of the scope or the budget, and
// publishes the Divergence metric (repairs planned). The payload (a scheduled event) is not
// read.
func (h *Handler) Handle(ctx context.Context, _ json.RawMessage) (rep Report, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("reconciler panicked: %v", p)
			h.log.Error("reconciler panicked", "error", err.Error(), "stack", string(debug.Stack()))
		}
	}()
	budget := h.budget
	if dl, ok := ctx.Deadline(); ok {
		left := dl.Sub(h.now()) - h.margin
		if left <= 0 {
			return Report{}, fmt.Errorf("reconciler: %s left before the deadline, less than the %s margin", dl.Sub(h.now()).Round(time.Millisecond), h.margin)
		}
		if budget <= 0 || left < budget {
			budget = left
		}
		// A batch running past the budget is cut off before the deadline; the next
		// invocation redoes it from the checkpoint.
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-h.margin/2))
		defer cancel()
	}
	r, err := h.newRunner(budget)
	if err != nil {
		return Report{}, fmt.Errorf("reconciler: %w", err)
	}
	s, err := r.Run(ctx)
	rep = Report{Complete: s.Complete, Resumed: s.Resumed, After: s.After, KeysScanned: s.Run.KeysScanned, DivergentKeys: s.Run.DivergentKeys,
		RepairsPlanned: s.Run.RepairsPlanned, RepairsDone: s.Run.RepairsDone, RepairsFailed: s.Run.RepairsFailed,
		Reads: s.Run.Reads, KeysSettledByIndex: s.Run.KeysSettled, IndexChunksRead: s.Run.ChunksRead, IndexChunksWritten: s.Run.ChunksWritten,
		IndexChunksRejected: s.Run.ChunksRejected}
	complete := 0.0
	if s.Complete {
		complete = 1
	}
	h.metrics.Emit(nil,
		telemetry.Metric{Name: "Divergence", Unit: telemetry.Count, Value: float64(s.Run.RepairsPlanned)},
		telemetry.Metric{Name: "DivergentKeys", Unit: telemetry.Count, Value: float64(s.Run.DivergentKeys)},
		telemetry.Metric{Name: "KeysScanned", Unit: telemetry.Count, Value: float64(s.Run.KeysScanned)},
		telemetry.Metric{Name: "RepairsDone", Unit: telemetry.Count, Value: float64(s.Run.RepairsDone)},
		telemetry.Metric{Name: "RepairsFailed", Unit: telemetry.Count, Value: float64(s.Run.RepairsFailed)},
		telemetry.Metric{Name: "ReconcilePassComplete", Unit: telemetry.Count, Value: complete},
		telemetry.Metric{Name: "ObjectReads", Unit: telemetry.Count, Value: float64(s.Run.Reads)},
		telemetry.Metric{Name: "KeysSettledByIndex", Unit: telemetry.Count, Value: float64(s.Run.KeysSettled)},
		telemetry.Metric{Name: "IndexChunksRead", Unit: telemetry.Count, Value: float64(s.Run.ChunksRead)},
		telemetry.Metric{Name: "IndexChunksWritten", Unit: telemetry.Count, Value: float64(s.Run.ChunksWritten)},
		telemetry.Metric{Name: "IndexChunksRejected", Unit: telemetry.Count, Value: float64(s.Run.ChunksRejected)})
	attrs := []any{"complete", s.Complete, "resumed", s.Resumed, "after", s.After, "keysScanned", s.Run.KeysScanned, "reads", s.Run.Reads,
		"divergentKeys", s.Run.DivergentKeys, "repairsPlanned", s.Run.RepairsPlanned, "repairsDone", s.Run.RepairsDone,
		"repairsFailed", s.Run.RepairsFailed, "skipped", s.Run.Skipped, "byKind", s.Run.ByKind, "elapsed", s.Elapsed.String(),
		"keysSettledByIndex", s.Run.KeysSettled, "indexChunksRead", s.Run.ChunksRead, "indexChunksWritten", s.Run.ChunksWritten,
		"indexChunksRejected", s.Run.ChunksRejected, "indexWriteErrors", s.Run.WriteErrors}
	for _, f := range s.Failures {
		h.log.Warn("reconcile failure", "failure", f)
	}
	for _, p := range s.IndexProblems {
		h.log.Warn("reconcile index problem (costs reads, not repairs)", "problem", p)
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		h.log.Error("reconcile run failed", append(attrs, "error", err.Error())...)
		return rep, fmt.Errorf("reconciler: %w", err)
	}
	if err != nil {
		attrs = append(attrs, "note", "a batch ran into the deadline; the next run redoes it")
	}
	h.log.Info("reconcile run", attrs...)
	return rep, nil
}
