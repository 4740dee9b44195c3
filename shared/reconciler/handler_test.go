package reconciler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/shared/reconcile"
	"github.com/mrap-engine/mrap/shared/telemetry"
)

type fakeRunner struct {
	s   reconcile.Summary
	err error
	ctx context.Context
}

func (f *fakeRunner) Run(ctx context.Context) (reconcile.Summary, error) {
	f.ctx = ctx
	return f.s, f.err
}

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func newTestHandler(r *fakeRunner, budget time.Duration) (*Handler, *[]time.Duration, *bytes.Buffer) {
	var budgets []time.Duration
	var metrics bytes.Buffer
	h := NewHandler(func(b time.Duration) (Runner, error) {
		budgets = append(budgets, b)
		return r, nil
	}, budget, slog.New(slog.DiscardHandler), telemetry.NewMetrics(&metrics, ""))
	h.now = func() time.Time { return now }
	return h, &budgets, &metrics
}

func TestHandleBudget(t *testing.T) {
	tests := []struct {
		name       string
		budget     time.Duration
		deadline   time.Duration // from now; 0: no deadline
		wantBudget time.Duration
		wantErr    bool
	}{
		{name: "configured budget inside the Lambda timeout", budget: 5 * time.Minute, deadline: 15 * time.Minute, wantBudget: 5 * time.Minute},
		{name: "Lambda deadline minus the margin caps the budget", budget: 10 * time.Minute, deadline: 3 * time.Minute, wantBudget: 150 * time.Second},
		{name: "no budget configured: the deadline decides", deadline: time.Minute, wantBudget: 30 * time.Second},
		{name: "no deadline (local run): the configured budget", budget: time.Minute, wantBudget: time.Minute},
		{name: "less time left than the margin: refused", budget: time.Minute, deadline: 20 * time.Second, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &fakeRunner{s: reconcile.Summary{Complete: true}}
			h, budgets, _ := newTestHandler(r, tt.budget)
			ctx := context.Background()
			if tt.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, now.Add(tt.deadline))
				defer cancel()
			}
			_, err := h.Handle(ctx, json.RawMessage(`{}`))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				if len(*budgets) != 0 {
					t.Error("a runner was built although there was no time")
				}
				return
			}
			if len(*budgets) != 1 || (*budgets)[0] != tt.wantBudget {
				t.Errorf("budgets %v, want [%s]", *budgets, tt.wantBudget)
			}
			if dl, ok := r.ctx.Deadline(); tt.deadline > 0 && (!ok || !dl.Equal(now.Add(tt.deadline-15*time.Second))) {
				t.Errorf("run deadline %v, want half a margin before the Lambda deadline", dl)
			}
		})
	}
}

func TestHandlePublishesDivergence(t *testing.T) {
	r := &fakeRunner{s: reconcile.Summary{Complete: true, Run: reconcile.Counts{KeysScanned: 100, DivergentKeys: 3, RepairsPlanned: 5, RepairsDone: 4, RepairsFailed: 1,
		Reads: 12, IndexStats: reconcile.IndexStats{KeysSettled: 90, ChunksRead: 2, ChunksRejected: 1, ChunksWritten: 3}}}}
	h, _, metrics := newTestHandler(r, time.Minute)
	rep, err := h.Handle(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Complete || rep.RepairsPlanned != 5 || rep.RepairsFailed != 1 || rep.KeysSettledByIndex != 90 || rep.Reads != 12 || rep.IndexChunksRejected != 1 {
		t.Errorf("report %+v", rep)
	}
	var emf map[string]any
	if err := json.Unmarshal(metrics.Bytes(), &emf); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{"Divergence": 5, "DivergentKeys": 3, "KeysScanned": 100, "RepairsDone": 4, "RepairsFailed": 1, "ReconcilePassComplete": 1,
		"ObjectReads": 12, "KeysSettledByIndex": 90, "IndexChunksRead": 2, "IndexChunksRejected": 1, "IndexChunksWritten": 3} {
		if emf[name] != want {
			t.Errorf("%s = %v, want %v", name, emf[name], want)
		}
	}
}

func TestHandleRunErrors(t *testing.T) {
	r := &fakeRunner{err: errors.New("list after \"k\": AccessDenied")}
	h, _, metrics := newTestHandler(r, time.Minute)
	if _, err := h.Handle(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("err = %v, want the run's error", err)
	}
	if !strings.Contains(metrics.String(), `"Divergence":0`) {
		t.Errorf("no metrics on failure: %s", metrics.String())
	}
	r.err = context.DeadlineExceeded
	if _, err := h.Handle(context.Background(), nil); err != nil {
		t.Errorf("a batch cut by the deadline is not a failure: %v", err)
	}
}

func TestLoadConfig(t *testing.T) {
	base := map[string]string{"MRAP_MEMBERS": "us-east-1=a,eu-west-1=b", "MRAP_RECONCILE_CHECKPOINT": "s3://state/reconcile/cp.json", "AWS_REGION": "us-east-1"}
	lookup := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	c, err := LoadConfig(lookup(base))
	if err != nil {
		t.Fatal(err)
	}
	if c.CheckpointBucket != "state" || c.CheckpointKey != "reconcile/cp.json" || c.CheckpointRegion != "us-east-1" ||
		c.Reconcile.Budget != 10*time.Minute || c.Reconcile.MinAge != 15*time.Minute || c.Reconcile.Workers != 8 ||
		c.IndexBucket != "state" || c.IndexPrefix != "reconcile/index/" {
		t.Errorf("config %+v", c)
	}
	tests := []struct {
		name, key, value, want string
	}{
		{name: "checkpoint not an S3 URL", key: "MRAP_RECONCILE_CHECKPOINT", value: "state/cp.json", want: "MRAP_RECONCILE_CHECKPOINT"},
		{name: "checkpoint in a member bucket", key: "MRAP_RECONCILE_CHECKPOINT", value: "s3://a/cp.json", want: "member bucket"},
		{name: "bad budget", key: "MRAP_RECONCILE_BUDGET", value: "soon", want: "MRAP_RECONCILE_BUDGET"},
		{name: "empty end: no upper bound", key: "MRAP_RECONCILE_END", value: "", want: ""},
		{name: "index off", key: "MRAP_RECONCILE_INDEX", value: "off", want: ""},
		{name: "index elsewhere", key: "MRAP_RECONCILE_INDEX", value: "s3://other/idx/", want: ""},
		{name: "index prefix without a slash", key: "MRAP_RECONCILE_INDEX", value: "s3://other/idx", want: "MRAP_RECONCILE_INDEX"},
		{name: "index not an S3 URL", key: "MRAP_RECONCILE_INDEX", value: "other/idx/", want: "MRAP_RECONCILE_INDEX"},
		{name: "index in a member bucket", key: "MRAP_RECONCILE_INDEX", value: "s3://b/idx/", want: "member bucket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			env[tt.key] = tt.value
			_, err := LoadConfig(lookup(env))
			if tt.want == "" {
				if err != nil {
					t.Errorf("err = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one naming %s", err, tt.want)
			}
		})
	}
	env := map[string]string{"MRAP_MEMBERS": "us-east-1=a,eu-west-1=b", "MRAP_RECONCILE_START_AFTER": "m", "MRAP_RECONCILE_END": "c"}
	if _, err := LoadConfig(lookup(env)); err == nil || !strings.Contains(err.Error(), "MRAP_RECONCILE_CHECKPOINT") || !strings.Contains(err.Error(), "MRAP_RECONCILE_END") {
		t.Errorf("err = %v, want every problem at once", err)
	}
}
