package replicator

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/mrap-engine/mrap/shared/replication"
)

// badReplicatorInputs are messages the replicator must refuse whole: malformed, truncated,
// oversized and wrong-typed versions of the object events it accepts.
func badReplicatorInputs(t *testing.T) []struct{ name, body, wantErr string } {
	created := string(fixture(t, "s3-object-created.json"))
	marker := string(fixture(t, "s3-object-deleted-marker.json"))
	return []struct{ name, body, wantErr string }{
		{"empty", "", "parse"},
		{"not json", "<Records/>", "parse"},
		{"truncated EventBridge event", created[:len(created)/2], "parse"},
		{"truncated S3 notification", string(fixture(t, "s3-event-notification.json")[:300]), "parse"},
		{"size of the wrong type", strings.Replace(created, `"size": 5`, `"size": "5"`, 1), "parse EventBridge S3 event"},
		{"key of the wrong type", strings.Replace(created, `"key": "`, `"key": 7, "x": "`, 1), "parse EventBridge S3 event"},
		{"detail of the wrong type", `{"source":"aws.s3","detail-type":"Object Created","detail":[1]}`, "parse EventBridge S3 event"},
		{"delete without version id", strings.Replace(marker, `"version-id"`, `"version-ids"`, 1), "lacks version id"},
		{"unknown deletion type", strings.Replace(marker, "Delete Marker Created", "Shredded", 1), `unknown deletion-type "Shredded"`},
		{"oversized body of padding", `{"source":"aws.s3","detail-type":"Object Created","detail":{"pad":"` + strings.Repeat("x", 10<<20) + `"}}`, "lacks region, bucket, key"},
	}
}

// TestBadInputIsRefusedAndChangesNothing: a bad message is a permanent error saying what was
// wrong (no retry can fix it), the engine is never called, and in an SQS batch only that
// record is reported failed while the good one next to it is replicated.
func TestBadInputIsRefusedAndChangesNothing(t *testing.T) {
	good := string(fixture(t, "s3-object-created.json"))
	for _, tt := range badReplicatorInputs(t) {
		t.Run(tt.name, func(t *testing.T) {
			h, eng, _, _ := newTestHandler(t, replicated)
			_, err := h.Handle(context.Background(), json.RawMessage(tt.body))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %.300v, want it to mention %q", err, tt.wantErr)
			}
			if !replication.IsPermanent(err) {
				t.Errorf("err = %.300v, want a permanent error", err)
			}
			if len(err.Error()) > 4096 {
				t.Errorf("error of %d bytes: it must not echo the input", len(err.Error()))
			}
			if len(eng.seen) != 0 {
				t.Fatalf("engine called with %d changes", len(eng.seen))
			}

			batch := sqsBatch(tt.body, good)
			raw, err := json.Marshal(batch)
			if err != nil {
				t.Fatal(err)
			}
			out, err := h.Handle(context.Background(), raw)
			if err != nil {
				t.Fatalf("SQS batch: %v", err)
			}
			resp, ok := out.(lambdaevents.SQSEventResponse)
			if !ok {
				t.Fatalf("SQS batch answered %T", out)
			}
			if got := failedIDs(resp); !slices.Equal(got, []string{"a"}) {
				t.Errorf("failed records = %v, want [a] (the bad one only)", got)
			}
			if len(eng.seen) != 1 || eng.seen[0].Key == "" {
				t.Errorf("engine saw %d changes, want the good record's one", len(eng.seen))
			}
		})
	}
}

// FuzzHandle: any payload, as a direct invocation or as the body of an SQS record, is handled
// without panicking; the engine only ever sees valid changes; an error with an engine that
// never fails is a permanent one about the input, and then the engine saw nothing.
func FuzzHandle(f *testing.F) {
	names, err := filepath.Glob(filepath.Join("..", "..", "events", "testdata", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
		f.Add(b[:len(b)/2], true)
	}
	for _, s := range []string{"", "null", "{}", `{"Records":[]}`, `{"Records":[{"eventSource":"aws:sqs","body":7}]}`, `{"detail":1}`} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, payload []byte, inSQS bool) {
		h, eng, _, _ := newTestHandler(t, replicated)
		if inSQS {
			raw, err := json.Marshal(sqsBatch(string(payload)))
			if err != nil {
				return
			}
			out, err := h.Handle(context.Background(), raw)
			if err != nil {
				t.Fatalf("SQS batch: %v", err)
			}
			if resp, ok := out.(lambdaevents.SQSEventResponse); !ok || len(resp.BatchItemFailures) > 1 {
				t.Fatalf("SQS batch of one answered %#v", out)
			}
		} else {
			_, err := h.Handle(context.Background(), payload)
			// A payload shaped like an SQS batch whose records do not decode is answered with a
			// plain error (SQS never sends one); anything else refused is permanent.
			sqsShaped := err != nil && strings.HasPrefix(err.Error(), "parse SQS batch")
			if err != nil && (!(replication.IsPermanent(err) || sqsShaped) || len(eng.seen) != 0) {
				t.Fatalf("error %v (permanent %v) after %d engine calls", err, replication.IsPermanent(err), len(eng.seen))
			}
		}
		for _, c := range eng.seen {
			if verr := c.Validate(); verr != nil {
				t.Fatalf("engine got an invalid change: %v", verr)
			}
			if c.Kind == "" || c.Key == "" && c.RawKey == "" {
				t.Fatalf("engine got %+v", c)
			}
		}
	})
}
