package batch

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	lambdaevents "github.com/aws/aws-lambda-go/events"
)

// FuzzHandle sends arbitrary payloads as S3 Batch Operations invocations. The handler never
// panics; a payload it cannot use is an error with a message and reconciles nothing; otherwise
// every task gets exactly one result, in order, with one of the three codes, and only tasks
// naming a member bucket and a decodable key reach the reconciler.
func FuzzHandle(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	for _, s := range []string{"", "null", "{}", `{"invocationId":"i","tasks":[]}`, `{"invocationId":"i","tasks":{}}`,
		`{"invocationId":"i","tasks":[{"taskId":"t","s3Key":"%zz","s3Bucket":"awsexamplebucket"}]}`,
		`{"invocationId":"i","tasks":[{"taskId":"t","s3Key":"a+b","s3BucketArn":"arn:aws:s3:::other-member"},{"taskId":"u","s3Key":"k","s3Bucket":"foreign"}]}`,
		`{"invocationId":7,"tasks":[null]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		h, rec, _ := newTestHandler(repaired)
		resp, err := h.Handle(context.Background(), payload)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			if len(rec.keys) != 0 {
				t.Fatalf("a rejected invocation reconciled %q", rec.keys)
			}
			return
		}
		var inv struct {
			Tasks []struct {
				lambdaevents.S3BatchJobTask
				S3Bucket string `json:"s3Bucket"`
			} `json:"tasks"`
		}
		if err := json.Unmarshal(payload, &inv); err != nil {
			t.Fatalf("accepted a payload that does not decode: %v", err)
		}
		if len(resp.Results) != len(inv.Tasks) {
			t.Fatalf("%d results for %d tasks", len(resp.Results), len(inv.Tasks))
		}
		reachable := 0
		for i, r := range resp.Results {
			if r.TaskID != inv.Tasks[i].TaskID {
				t.Fatalf("result %d answers task %q, want %q", i, r.TaskID, inv.Tasks[i].TaskID)
			}
			switch r.ResultCode {
			case Succeeded, TemporaryFailure, PermanentFailure:
			default:
				t.Fatalf("result code %q", r.ResultCode)
			}
			bucket := inv.Tasks[i].S3Bucket
			if bucket == "" {
				bucket = bucketFromARN(inv.Tasks[i].S3BucketARN)
			}
			if bucket != "awsexamplebucket" && bucket != "other-member" {
				if r.ResultCode != PermanentFailure || !strings.Contains(r.ResultString, "not a member bucket") {
					t.Fatalf("task on bucket %q answered %s %q", bucket, r.ResultCode, r.ResultString)
				}
				continue
			}
			if r.ResultCode == Succeeded {
				reachable++
			}
		}
		if len(rec.keys) != reachable {
			t.Fatalf("reconciled %d keys, %d tasks succeeded", len(rec.keys), reachable)
		}
		for _, k := range rec.keys {
			if k == "" {
				t.Fatal("reconciled the empty key")
			}
		}
	})
}
