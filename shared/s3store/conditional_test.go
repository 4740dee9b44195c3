package s3store

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/mrap-engine/mrap/shared/replication"
)

func TestConditionalWritesSendTheConditionAndReportItsFailure(t *testing.T) {
	tests := []struct {
		name          string
		cond          replication.Condition
		deleteMarker  bool
		status        int
		code          string
		wantIfMatch   string
		wantNoneMatch string
		wantFailed    bool // the error wraps ErrConditionFailed
	}{
		{name: "copy over an object: If-Match, success", cond: replication.Condition{IfMatch: `"e1"`}, status: 200, wantIfMatch: `"e1"`},
		{name: "copy over nothing: If-None-Match", cond: replication.Condition{IfAbsent: true}, status: 200, wantNoneMatch: "*"},
		{name: "412 PreconditionFailed", cond: replication.Condition{IfMatch: `"e1"`}, status: 412, code: "PreconditionFailed", wantIfMatch: `"e1"`, wantFailed: true},
		{name: "409 ConditionalRequestConflict", cond: replication.Condition{IfAbsent: true}, status: 409, code: "ConditionalRequestConflict", wantNoneMatch: "*", wantFailed: true},
		{name: "If-Match on a key with no current object: 404", cond: replication.Condition{IfMatch: `"e1"`}, status: 404, code: "NoSuchKey", wantIfMatch: `"e1"`, wantFailed: true},
		{name: "unconditional copy sends neither", status: 200},
		{name: "delete marker: If-Match", cond: replication.Condition{IfMatch: `"e1"`}, deleteMarker: true, status: 204, wantIfMatch: `"e1"`},
		{name: "delete marker: stale ETag", cond: replication.Condition{IfMatch: `"e1"`}, deleteMarker: true, status: 412, code: "PreconditionFailed", wantIfMatch: `"e1"`, wantFailed: true},
		{name: "delete marker: S3 has no If-None-Match on deletes", cond: replication.Condition{IfAbsent: true}, deleteMarker: true, status: 204},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var got http.Header
			srv := newS3Server(t, func(w http.ResponseWriter, r *http.Request, op string) {
				mu.Lock()
				got = r.Header.Clone()
				mu.Unlock()
				if tt.status >= 300 {
					w.WriteHeader(tt.status)
					_, _ = io.WriteString(w, `<Error><Code>`+tt.code+`</Code><Message>m</Message></Error>`)
					return
				}
				w.WriteHeader(tt.status)
				if op == "CopyObject" {
					_, _ = io.WriteString(w, `<CopyObjectResult><ETag>"e"</ETag></CopyObjectResult>`)
				}
			})
			c := clientFor(srv, 1)
			store, err := New(map[string]S3API{"eu-west-1": c, "us-east-1": c}, Options{SameService: true})
			if err != nil {
				t.Fatal(err)
			}
			if tt.deleteMarker {
				err = store.PutDeleteMarkerIf(context.Background(), "us-east-1", "dst", "k", tt.cond)
			} else {
				req := copyRequest(10)
				req.Condition = tt.cond
				_, err = store.Copy(context.Background(), req)
			}
			if gotFailed := errors.Is(err, replication.ErrConditionFailed); gotFailed != tt.wantFailed {
				t.Errorf("error %v: condition failed %v, want %v", err, gotFailed, tt.wantFailed)
			}
			if tt.wantFailed && (errors.Is(err, replication.ErrNotFound) || replication.IsPermanent(err)) {
				t.Errorf("a failed condition must be retryable and not read as a missing source: %v", err)
			}
			if !tt.wantFailed && err != nil {
				t.Errorf("unexpected error %v", err)
			}
			if got.Get("If-Match") != tt.wantIfMatch || got.Get("If-None-Match") != tt.wantNoneMatch {
				t.Errorf("If-Match %q If-None-Match %q, want %q %q", got.Get("If-Match"), got.Get("If-None-Match"), tt.wantIfMatch, tt.wantNoneMatch)
			}
		})
	}
}

func TestAtomicConditionsByStoreKind(t *testing.T) {
	c := clientFor(newS3Server(t, func(http.ResponseWriter, *http.Request, string) {}), 1)
	tests := []struct {
		name          string
		opts          Options
		copy, dmarker bool
	}{
		{name: "AWS", opts: Options{SameService: true}, copy: true, dmarker: true},
		{name: "versitygw (streaming)", opts: Options{}, copy: true, dmarker: false},
		{name: "unguarded store", opts: Options{UnguardedWrites: true}, copy: false, dmarker: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(map[string]S3API{"eu-west-1": c}, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Atomic("eu-west-1", false, 10); got != tt.copy {
				t.Errorf("copies atomic %v, want %v", got, tt.copy)
			}
			if got := s.Atomic("eu-west-1", true, 0); got != tt.dmarker {
				t.Errorf("delete markers atomic %v, want %v", got, tt.dmarker)
			}
		})
	}
}
