package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/url"
	"testing"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestBatchBootstrapUnderRIE runs the built S3 Batch Operations handler under the Lambda
// Runtime Interface Emulator with a schema 1.0 invocation whose keys are URL-encoded, as a job
// over an S3 Inventory manifest sends them, and checks the replicas and the result codes.
func TestBatchBootstrapUnderRIE(t *testing.T) {
	skipShort(t)
	regions := startRegions(t, "us-east-1", "eu-west-1")
	a, b := regions[0], regions[1]
	members, endpoints := memberEnv(regions)
	fn := startRIE(t, buildFunction(t, "batch", hostArch()),
		"MRAP_MEMBERS="+members,
		"MRAP_ENDPOINTS="+endpoints,
		"AWS_REGION="+a.Region,
		"AWS_ACCESS_KEY_ID="+a.AccessKey,
		"AWS_SECRET_ACCESS_KEY="+a.SecretKey,
	)
	ctx := context.Background()
	keys := []string{"plain.txt", "dir/a b+c%d:é 日本.txt"}
	for _, k := range keys {
		_, err := a.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: &a.Bucket, Key: aws.String(k), Body: bytes.NewReader([]byte("backfill " + k)),
			Metadata: map[string]string{"team": "blue"}})
		must(t, err, "put %q", k)
	}
	ev := lambdaevents.S3BatchJobEvent{InvocationSchemaVersion: "1.0", InvocationID: "inv-1", Job: lambdaevents.S3BatchJob{ID: "job-1"}}
	for i, k := range keys {
		ev.Tasks = append(ev.Tasks, lambdaevents.S3BatchJobTask{TaskID: "t" + string(rune('0'+i)), S3Key: url.QueryEscape(k), S3BucketARN: "arn:aws:s3:::" + a.Bucket})
	}
	ev.Tasks = append(ev.Tasks, lambdaevents.S3BatchJobTask{TaskID: "foreign", S3Key: "x", S3BucketARN: "arn:aws:s3:::someone-elses-bucket"})

	var resp lambdaevents.S3BatchJobResponse
	must(t, json.Unmarshal(fn.invoke(t, ev), &resp), "decode response")
	if resp.InvocationID != "inv-1" || resp.InvocationSchemaVersion != "1.0" || len(resp.Results) != 3 {
		t.Fatalf("response %+v", resp)
	}
	want := map[string]string{"t0": "Succeeded", "t1": "Succeeded", "foreign": "PermanentFailure"}
	for _, r := range resp.Results {
		if r.ResultCode != want[r.TaskID] {
			t.Errorf("task %s: %s (%s), want %s", r.TaskID, r.ResultCode, r.ResultString, want[r.TaskID])
		}
	}
	for _, k := range keys {
		out, err := b.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: &b.Bucket, Key: aws.String(k)})
		must(t, err, "get replica %q", k)
		body, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if string(body) != "backfill "+k || out.Metadata["team"] != "blue" || out.Metadata["mrap-origin-region"] != a.Region {
			t.Errorf("replica of %q: %q %v", k, body, out.Metadata)
		}
	}
	// Invoked again (S3 Batch Operations retries): nothing left to do.
	must(t, json.Unmarshal(fn.invoke(t, ev), &resp), "decode response")
	for _, r := range resp.Results {
		if r.TaskID != "foreign" && (r.ResultCode != "Succeeded" || r.ResultString != "in sync") {
			t.Errorf("second invocation, task %s: %s %q; want Succeeded, in sync", r.TaskID, r.ResultCode, r.ResultString)
		}
	}
}
