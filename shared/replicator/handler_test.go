package replicator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/mrap-engine/mrap/events"
	"github.com/mrap-engine/mrap/shared/replication"
	"github.com/mrap-engine/mrap/shared/telemetry"
)

// fakeEngine answers Apply with fn and records the changes it saw.
type fakeEngine struct {
	mu   sync.Mutex
	seen []events.ObjectChange
	fn   func(events.ObjectChange) (replication.Result, error)
}

func (f *fakeEngine) Apply(_ context.Context, c events.ObjectChange) (replication.Result, error) {
	f.mu.Lock()
	f.seen = append(f.seen, c)
	f.mu.Unlock()
	return f.fn(c)
}

func replicated(c events.ObjectChange) (replication.Result, error) {
	return replication.Result{Change: c, Key: c.Key, Destinations: []replication.Outcome{
		{Region: "us-east-1", Status: replication.Replicated, Action: replication.ActionCopy, Bytes: 5},
		{Region: "ap-southeast-2", Status: replication.Skipped, Action: replication.ActionSkip, Reason: replication.SkipDuplicate},
	}}, nil
}

func newTestHandler(t *testing.T, fn func(events.ObjectChange) (replication.Result, error)) (*Handler, *fakeEngine, *bytes.Buffer, *bytes.Buffer) {
	eng := &fakeEngine{fn: fn}
	var metrics, logs bytes.Buffer
	h, err := New(eng, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Metrics: telemetry.NewMetrics(&metrics, ""), Region: "ca-central-1",
		Now: func() time.Time { return time.Date(2021, 11, 12, 0, 0, 2, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	return h, eng, &metrics, &logs
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../events/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sqsBatch(bodies ...string) lambdaevents.SQSEvent {
	var ev lambdaevents.SQSEvent
	for i, b := range bodies {
		ev.Records = append(ev.Records, lambdaevents.SQSMessage{MessageId: string(rune('a' + i)), Body: b, EventSource: "aws:sqs"})
	}
	return ev
}

func failedIDs(r lambdaevents.SQSEventResponse) []string {
	var out []string
	for _, f := range r.BatchItemFailures {
		out = append(out, f.ItemIdentifier)
	}
	return out
}

func TestSQSBatchReportsOnlyFailedRecords(t *testing.T) {
	created := string(fixture(t, "s3-object-created.json"))
	h, eng, _, logs := newTestHandler(t, func(c events.ObjectChange) (replication.Result, error) {
		if c.Key == "explode" {
			panic("boom")
		}
		if c.Key == "denied" {
			return replication.Result{}, replication.Permanent(errors.New("AccessDenied"))
		}
		return replicated(c)
	})
	denied := strings.Replace(created, `"key": "example-key"`, `"key": "denied"`, 1)
	explode := strings.Replace(created, `"key": "example-key"`, `"key": "explode"`, 1)
	tests := []struct {
		name       string
		bodies     []string
		wantFailed []string
	}{
		{name: "all good", bodies: []string{created, string(fixture(t, "sns-s3-notification.json")), string(fixture(t, "s3-event-notification.json"))}},
		{name: "malformed record next to good ones", bodies: []string{created, `{"detail-type": "Object Created", "source": "aws.s3"`, created}, wantFailed: []string{"b"}},
		{name: "permanent engine error fails its record", bodies: []string{denied, created}, wantFailed: []string{"a"}},
		{name: "panicking record fails alone", bodies: []string{created, explode}, wantFailed: []string{"b"}},
		{name: "test event is acknowledged", bodies: []string{string(fixture(t, "s3-test-event.json"))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := h.HandleSQS(context.Background(), sqsBatch(tt.bodies...))
			if got := failedIDs(resp); !slices.Equal(got, tt.wantFailed) {
				t.Errorf("failed records %v, want %v", got, tt.wantFailed)
			}
			if resp.BatchItemFailures == nil {
				t.Error("BatchItemFailures is nil; it must marshal as [] so Lambda reads an empty list")
			}
		})
	}
	if len(eng.seen) == 0 {
		t.Fatal("engine never called")
	}
	if !strings.Contains(logs.String(), `"msg":"malformed message"`) || !strings.Contains(logs.String(), `"msg":"replication panicked"`) {
		t.Errorf("logs lack the malformed message or panic lines:\n%s", logs.String())
	}
}

func TestHandleDispatchesByShape(t *testing.T) {
	h, eng, _, _ := newTestHandler(t, replicated)
	batch, _ := json.Marshal(sqsBatch(string(fixture(t, "s3-object-created.json")), "not json"))
	out, err := h.Handle(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	resp, ok := out.(lambdaevents.SQSEventResponse)
	if !ok || !slices.Equal(failedIDs(resp), []string{"b"}) {
		t.Fatalf("SQS invocation returned %#v, want a response failing only record b", out)
	}
	if _, err := h.Handle(context.Background(), fixture(t, "s3-object-deleted-marker.json")); err != nil {
		t.Fatalf("direct EventBridge invocation: %v", err)
	}
	if last := eng.seen[len(eng.seen)-1]; last.Kind != events.DeleteMarkerCreated {
		t.Errorf("direct invocation applied %+v", last)
	}
	if _, err := h.Handle(context.Background(), json.RawMessage(`{"hello":1}`)); err == nil || !replication.IsPermanent(err) {
		t.Errorf("unknown direct payload: err = %v, want a permanent error", err)
	}
}

func TestDirectInvocationReturnsEngineErrors(t *testing.T) {
	h, _, _, _ := newTestHandler(t, func(c events.ObjectChange) (replication.Result, error) {
		return replication.Result{Destinations: []replication.Outcome{{Region: "us-east-1", Status: replication.Failed, Err: errors.New("SlowDown")}}}, errors.New("SlowDown")
	})
	_, err := h.Handle(context.Background(), fixture(t, "s3-object-created.json"))
	if err == nil || !strings.Contains(err.Error(), "SlowDown") || !strings.Contains(err.Error(), "example-key") {
		t.Errorf("err = %v, want the failure with the key", err)
	}
}

func TestMetricsAreEMFLines(t *testing.T) {
	h, _, metrics, _ := newTestHandler(t, replicated)
	if _, err := h.Handle(context.Background(), fixture(t, "s3-object-created.json")); err != nil {
		t.Fatal(err)
	}
	byName := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(metrics.String()), "\n") {
		var doc map[string]any
		if err := json.Unmarshal([]byte(line), &doc); err != nil {
			t.Fatalf("not JSON: %s", line)
		}
		if _, ok := doc["_aws"]; !ok {
			t.Fatalf("not an EMF line: %s", line)
		}
		for _, name := range []string{"Replicated", "Skipped", "Failed", "BytesReplicated", "ReplicationLatency"} {
			if _, ok := doc[name]; ok {
				byName[name] = doc
			}
		}
	}
	checks := []struct {
		metric string
		want   float64
		dim    string
		dimVal string
	}{
		{metric: "Replicated", want: 1, dim: "Region", dimVal: "ca-central-1"},
		{metric: "Failed", want: 0, dim: "Region", dimVal: "ca-central-1"},
		{metric: "BytesReplicated", want: 5, dim: "Region", dimVal: "ca-central-1"},
		{metric: "ReplicationLatency", want: 2000, dim: "Region", dimVal: "ca-central-1"},
		{metric: "Skipped", want: 1, dim: "Reason", dimVal: replication.SkipDuplicate},
	}
	for _, c := range checks {
		doc, ok := byName[c.metric]
		if !ok {
			t.Errorf("no %s metric in %s", c.metric, metrics.String())
			continue
		}
		if doc[c.metric] != c.want || doc[c.dim] != c.dimVal {
			t.Errorf("%s = %v with %s=%v, want %v with %s", c.metric, doc[c.metric], c.dim, doc[c.dim], c.want, c.dimVal)
		}
	}
}

func TestLoadConfig(t *testing.T) {
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	c, err := LoadConfig(env(map[string]string{
		"MRAP_MEMBERS": "eu-west-1=b-eu,us-east-1=b-us", "MRAP_ENDPOINTS": "eu-west-1=http://127.0.0.1:1,us-east-1=http://127.0.0.1:2",
		"MRAP_REPLICATE_PERMANENT_DELETES": "true", "MRAP_MULTIPART_THRESHOLD": "1048576", "MRAP_KMS_KEYS": "us-east-1=arn:aws:kms:us-east-1:1:key/k",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Store.SameService || c.Store.TrustNotFound || !c.Replication.ReplicatePermanentDeletes || c.Replication.ReplicateLifecycleDeletes ||
		c.Store.MultipartThreshold != 1048576 || c.Store.KMSKeys["us-east-1"] == "" || c.MaxAttempts != 5 || c.Store.TrailingChecksums {
		t.Errorf("config = %+v", c)
	}
	c, err = LoadConfig(env(map[string]string{"MRAP_MEMBERS": "eu-west-1=b-eu,us-east-1=b-us"}))
	if err != nil || !c.Store.SameService || !c.Store.TrustNotFound || !c.Store.TrailingChecksums {
		t.Errorf("AWS config = %+v, %v; want server-side copies", c, err)
	}
	_, err = LoadConfig(env(map[string]string{"MRAP_MEMBERS": "eu-west-1=b", "MRAP_ENDPOINTS": "sa-east-1=http://x", "MRAP_COPY_CONCURRENCY": "many", "MRAP_REPLICATE_LIFECYCLE_DELETES": "maybe"}))
	for _, want := range []string{"MRAP_MEMBERS", "MRAP_ENDPOINTS", "MRAP_COPY_CONCURRENCY", "MRAP_REPLICATE_LIFECYCLE_DELETES"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not report %s", err, want)
		}
	}
}

func TestNewRejectsANilEngine(t *testing.T) {
	if _, err := New(nil, Options{}); err == nil {
		t.Error("New accepted a nil engine")
	}
}

func TestObserveSeesEveryChange(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	h, _, _, _ := newTestHandler(t, replicated)
	h.opts.Observe = func(_ context.Context, c events.ObjectChange, res replication.Result, err error) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, fmt.Sprintf("%s %d %v", c.Key, res.Count(replication.Replicated), err))
	}
	if err := h.HandleMessage(context.Background(), fixture(t, "s3-object-created.json"), "m"); err != nil {
		t.Fatal(err)
	}
	if err := h.HandleMessage(context.Background(), fixture(t, "s3-test-event.json"), "t"); err != nil {
		t.Fatalf("a test event is acknowledged: %v", err)
	}
	if !slices.Equal(seen, []string{"example-key 1 <nil>"}) {
		t.Errorf("observed %v, want one replicated change", seen)
	}
}
