package notifybridge_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mrap-engine/mrap/shared/local/notifybridge"
)

// A record the replicator could not act on is dead-lettered with its reason, never bridged.
func TestRecordsThatCannotBeBridgedAreDeadLettered(t *testing.T) {
	tests := []struct {
		name, bucket, key, want string
	}{
		{"a bucket that is not the member's", "someone-elses", "k", "which is not the member bucket"},
		{"no object key", "mrap-us-east-1", "", "names no object key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dlq := filepath.Join(t.TempDir(), "dead-letters.jsonl")
			delivered := 0
			b := notifybridge.New([]notifybridge.Member{
				{Region: "us-east-1", Bucket: "mrap-us-east-1", Client: versionFake{}},
				{Region: "eu-west-1", Bucket: "mrap-eu-west-1", Client: versionFake{}},
			}, func(context.Context, []byte) error { delivered++; return nil }, notifybridge.Options{
				AccountID: "123456789012", QueueSize: 4, Workers: 1, DeadLetterPath: dlq,
			})
			body := `{"Records":[{"eventName":"s3:ObjectCreated:Put","awsRegion":"us-east-1","s3":{"bucket":{"name":"` + tt.bucket + `"},"object":{"key":"` + tt.key + `","sequencer":"1"}}}]}`
			w := httptest.NewRecorder()
			b.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader([]byte(body))))
			b.Stop()
			raw, err := os.ReadFile(dlq)
			if err != nil {
				t.Fatalf("no dead letter: %v", err)
			}
			if w.Code != http.StatusOK || delivered != 0 || !strings.Contains(string(raw), tt.want) {
				t.Errorf("HTTP %d, %d delivered, dead letters %s; want 200, none delivered, reason %q", w.Code, delivered, raw, tt.want)
			}
		})
	}
}
