package batch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/mrap-engine/mrap/shared/reconcile"
	"github.com/mrap-engine/mrap/shared/replication"
	"github.com/mrap-engine/mrap/shared/telemetry"
)

// fakeReconciler answers ReconcileKey with fn and records the keys.
type fakeReconciler struct {
	keys []string
	fn   func(key string) ([]reconcile.Result, error)
}

func (f *fakeReconciler) ReconcileKey(_ context.Context, key string) ([]reconcile.Result, error) {
	f.keys = append(f.keys, key)
	return f.fn(key)
}

func repaired(string) ([]reconcile.Result, error) {
	return []reconcile.Result{{
		Repair:  reconcile.Repair{Kind: reconcile.MissingReplica, Repair: replication.Repair{Region: "us-east-1"}},
		Outcome: replication.Outcome{Region: "us-east-1", Status: replication.Replicated},
	}}, nil
}

func newTestHandler(fn func(string) ([]reconcile.Result, error)) (*Handler, *fakeReconciler, *bytes.Buffer) {
	f := &fakeReconciler{fn: fn}
	var metrics bytes.Buffer
	h := NewHandler(f, []string{"awsexamplebucket", "other-member"}, slog.New(slog.DiscardHandler), telemetry.NewMetrics(&metrics, ""))
	return h, f, &metrics
}

func TestHandleFixtures(t *testing.T) {
	for _, name := range []string{"s3-batch-job-event-request-1.0.json", "s3-batch-job-event-request-2.0.json"} {
		t.Run(name, func(t *testing.T) {
			payload, err := os.ReadFile("testdata/" + name)
			if err != nil {
				t.Fatal(err)
			}
			h, f, metrics := newTestHandler(repaired)
			resp, err := h.Handle(context.Background(), payload)
			if err != nil {
				t.Fatal(err)
			}
			var req lambdaevents.S3BatchJobEvent
			_ = json.Unmarshal(payload, &req)
			if resp.InvocationID != req.InvocationID || resp.InvocationSchemaVersion != req.InvocationSchemaVersion || resp.TreatMissingKeysAs != PermanentFailure {
				t.Errorf("response header %+v does not answer %+v", resp, req)
			}
			if len(resp.Results) != 1 || resp.Results[0].TaskID != "dGFza2lkZ29lc2hlcmUK" || resp.Results[0].ResultCode != Succeeded {
				t.Fatalf("results %+v", resp.Results)
			}
			if !strings.Contains(resp.Results[0].ResultString, "missing-replica us-east-1: replicated") {
				t.Errorf("result string %q", resp.Results[0].ResultString)
			}
			if len(f.keys) != 1 || f.keys[0] != "customerImage1.jpg" {
				t.Errorf("reconciled %v", f.keys)
			}
			var emf map[string]any
			if err := json.Unmarshal(metrics.Bytes(), &emf); err != nil || emf["Divergence"] != 1.0 || emf["RepairsDone"] != 1.0 {
				t.Errorf("metrics %s (%v)", metrics.String(), err)
			}
		})
	}
}

func task(id, key, bucket string) map[string]string {
	return map[string]string{"taskId": id, "s3Key": key, "s3VersionId": "v", "s3Bucket": bucket}
}

func TestHandleResultCodes(t *testing.T) {
	tests := []struct {
		name     string
		key      string
		bucket   string
		fn       func(string) ([]reconcile.Result, error)
		wantCode string
		wantKey  string // the key reconciled ("" when none)
	}{
		{name: "URL-encoded key is decoded once", key: "a+b%2Bc%25d%3A%C3%A9", bucket: "awsexamplebucket", fn: repaired, wantCode: Succeeded, wantKey: "a b+c%d:é"},
		{name: "key already in sync", key: "k", bucket: "other-member", fn: func(string) ([]reconcile.Result, error) { return nil, nil }, wantCode: Succeeded, wantKey: "k"},
		{name: "throttled: temporary", key: "k", bucket: "awsexamplebucket", fn: func(string) ([]reconcile.Result, error) { return nil, errors.New("503 SlowDown") }, wantCode: TemporaryFailure, wantKey: "k"},
		{name: "access denied: permanent", key: "k", bucket: "awsexamplebucket", fn: func(string) ([]reconcile.Result, error) {
			return nil, replication.Permanent(errors.New("AccessDenied"))
		}, wantCode: PermanentFailure, wantKey: "k"},
		{name: "bucket that is not a member: permanent, nothing done", key: "k", bucket: "stranger", fn: repaired, wantCode: PermanentFailure},
		{name: "undecodable key: permanent, nothing done", key: "bad%zz", bucket: "awsexamplebucket", fn: repaired, wantCode: PermanentFailure},
		{name: "panic becomes a temporary failure", key: "k", bucket: "awsexamplebucket", fn: func(string) ([]reconcile.Result, error) { panic("boom") }, wantCode: TemporaryFailure, wantKey: "k"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, f, _ := newTestHandler(tt.fn)
			payload, _ := json.Marshal(map[string]any{"invocationSchemaVersion": "2.0", "invocationId": "inv", "job": map[string]string{"id": "j"},
				"tasks": []any{task("t1", tt.key, tt.bucket)}})
			resp, err := h.Handle(context.Background(), payload)
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Results) != 1 || resp.Results[0].ResultCode != tt.wantCode || resp.Results[0].TaskID != "t1" {
				t.Fatalf("results %+v, want one %s", resp.Results, tt.wantCode)
			}
			if got := strings.Join(f.keys, ","); got != tt.wantKey {
				t.Errorf("reconciled %q, want %q", got, tt.wantKey)
			}
		})
	}
}

func TestHandleRejectsMalformedInvocations(t *testing.T) {
	for _, payload := range []string{`not json`, `{}`, `{"invocationId":"x","tasks":[]}`} {
		h, f, _ := newTestHandler(repaired)
		if _, err := h.Handle(context.Background(), json.RawMessage(payload)); err == nil {
			t.Errorf("%s: accepted", payload)
		}
		if len(f.keys) != 0 {
			t.Errorf("%s: reconciled %v", payload, f.keys)
		}
	}
}

func TestHandleStopsBeforeTheDeadline(t *testing.T) {
	h, f, _ := newTestHandler(repaired)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var tasks []any
	for i := range 3 {
		tasks = append(tasks, task(fmt.Sprint(i), "k", "awsexamplebucket"))
	}
	payload, _ := json.Marshal(map[string]any{"invocationSchemaVersion": "2.0", "invocationId": "inv", "tasks": tasks})
	resp, err := h.Handle(ctx, payload)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range resp.Results {
		if r.ResultCode != TemporaryFailure {
			t.Errorf("task %s = %s, want TemporaryFailure inside the margin", r.TaskID, r.ResultCode)
		}
	}
	if len(f.keys) != 0 {
		t.Errorf("reconciled %v inside the margin", f.keys)
	}
}

func TestLoadConfig(t *testing.T) {
	env := map[string]string{"MRAP_MEMBERS": "us-east-1=a,eu-west-1=b", "MRAP_DRY_RUN": "true"}
	c, err := LoadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil || len(c.Members) != 2 || !c.DryRun || !c.Store.SameService || len(c.Exclude) != 2 {
		t.Fatalf("config %+v, %v", c, err)
	}
	env["MRAP_ENDPOINTS"] = "us-east-1=http://127.0.0.1:1"
	env["MRAP_MAX_ATTEMPTS"] = "0"
	if _, err := LoadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err == nil ||
		!strings.Contains(err.Error(), "MRAP_ENDPOINTS") || !strings.Contains(err.Error(), "MRAP_MAX_ATTEMPTS") {
		t.Errorf("err = %v, want both problems", err)
	}
}
