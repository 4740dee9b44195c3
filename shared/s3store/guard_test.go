package s3store

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mrap-engine/mrap/shared/replication"
)

// A store that does not implement write conditions answers 501: the write is made again
// without them, the Region's writes are reported as not atomic (the engine verifies them),
// later writes there go without conditions, and the switch is logged once.
func TestRefusedConditionsFallBackToUnguardedWrites(t *testing.T) {
	var mu sync.Mutex
	var conditioned, plain []string
	srv := newS3Server(t, func(w http.ResponseWriter, r *http.Request, op string) {
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("If-Match") != "" || r.Header.Get("If-None-Match") != "" {
			conditioned = append(conditioned, op)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusNotImplemented)
			_, _ = io.WriteString(w, `<Error><Code>NotImplemented</Code><Message>A header you provided implies functionality that is not implemented</Message></Error>`)
			return
		}
		plain = append(plain, op)
		if op == "CopyObject" {
			_, _ = io.WriteString(w, `<CopyObjectResult><ETag>"e"</ETag></CopyObjectResult>`)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	var logs bytes.Buffer
	c := clientFor(srv, 1)
	store, err := New(map[string]S3API{"eu-west-1": c, "us-east-1": c}, Options{SameService: true, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if !store.Atomic("us-east-1", false, 10) {
		t.Fatal("before any refusal, copies on AWS are atomic")
	}
	req := copyRequest(10)
	req.Condition = replication.Condition{IfMatch: `"e1"`}
	if _, err := store.Copy(ctx, req); err != nil {
		t.Fatalf("copy refused a condition: %v, want it made again without", err)
	}
	if store.Atomic("us-east-1", false, 10) || store.Atomic("us-east-1", true, 0) {
		t.Error("after a refusal the Region's writes must be verified (not atomic)")
	}
	if !store.Atomic("eu-west-1", false, 10) {
		t.Error("another Region's writes stay atomic")
	}
	if _, err := store.Copy(ctx, req); err != nil {
		t.Fatal(err)
	}
	if err := store.PutDeleteMarkerIf(ctx, "us-east-1", "dst", "k", replication.Condition{IfMatch: `"e1"`}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(conditioned, ","); got != "CopyObject" {
		t.Errorf("conditioned requests %s, want only the first CopyObject (later writes go without)", got)
	}
	if got := strings.Join(plain, ","); got != "CopyObject,CopyObject,DELETE" {
		t.Errorf("unconditioned requests %s", got)
	}
	if n := strings.Count(logs.String(), "refuses conditional writes"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, logs.String())
	}
}

// A failed condition is not a refusal: 412 stays ErrConditionFailed and changes nothing.
func TestConditionRefusedTellsRefusalFromFailure(t *testing.T) {
	for _, tt := range []struct {
		name   string
		status int
		code   string
		msg    string
		want   bool
	}{
		{"501 NotImplemented", 501, "NotImplemented", "A header you provided implies functionality that is not implemented", true},
		{"400 naming an unsupported If-Match", 400, "InvalidRequest", "If-Match is not supported", true},
		{"412 PreconditionFailed", 412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold", false},
		{"400 about something else", 400, "InvalidArgument", "bad storage class", false},
		{"500 InternalError", 500, "InternalError", "We encountered an internal error", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newS3Server(t, func(w http.ResponseWriter, r *http.Request, op string) {
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, `<Error><Code>`+tt.code+`</Code><Message>`+tt.msg+`</Message></Error>`)
			})
			_, err := clientFor(srv, 1).DeleteObject(context.Background(), deleteInput("b", "k"))
			if got := conditionRefused(err); got != tt.want {
				t.Errorf("conditionRefused(%v) = %v, want %v", err, got, tt.want)
			}
		})
	}
}

func deleteInput(bucket, key string) *s3.DeleteObjectInput {
	return &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
}
