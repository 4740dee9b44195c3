package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mrap-engine/mrap/events"
	"github.com/mrap-engine/mrap/shared/local/s3server"
	"github.com/mrap-engine/mrap/shared/local/s3server/s3servertest"
)

// TestSQSBatchAgainstLocalRegions wires the handler exactly as main does (Setup from the
// environment) against two versitygw Regions and sends an SQS batch in which one record is
// malformed: only that record fails, the others are replicated.
func TestSQSBatchAgainstLocalRegions(t *testing.T) {
	ctx := context.Background()
	srvs := s3servertest.StartRegions(t, s3server.Options{}, "eu-west-1", "us-east-1")
	eu, us := srvs[0], srvs[1]
	t.Setenv("AWS_ACCESS_KEY_ID", eu.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", eu.SecretKey)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	env := map[string]string{
		"MRAP_MEMBERS":   "eu-west-1=" + eu.Bucket + ",us-east-1=" + us.Bucket,
		"MRAP_ENDPOINTS": "eu-west-1=" + eu.Endpoint + ",us-east-1=" + us.Endpoint,
		"AWS_REGION":     "eu-west-1",
	}
	var stdout, logs bytes.Buffer
	h, err := Setup(ctx, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, &stdout, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var batch lambdaevents.SQSEvent
	for i, key := range []string{"good one.txt", "", "good+two.txt"} {
		body := `{"version":"0","detail-type":"Object Created","source":"aws.s3","detail":` // malformed: truncated
		if key != "" {
			put, err := eu.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(eu.Bucket), Key: aws.String(key), Body: strings.NewReader("data " + key)})
			if err != nil {
				t.Fatal(err)
			}
			ev := events.S3ObjectEvent{
				Envelope: events.Envelope{
					Version: "0", ID: "id", DetailType: events.DetailTypeObjectCreated, Source: events.S3EventSource, Region: "eu-west-1", Time: time.Now().UTC(),
				},
				Detail: events.S3ObjectDetail{Version: "0", Bucket: events.S3DetailBucket{Name: eu.Bucket}, Reason: events.ReasonPutObject,
					Object: events.S3DetailObject{Key: url.QueryEscape(key), Size: int64(len("data " + key)), VersionID: aws.ToString(put.VersionId)}}}
			b, _ := json.Marshal(ev)
			body = string(b)
		}
		batch.Records = append(batch.Records, lambdaevents.SQSMessage{MessageId: []string{"m0", "m1", "m2"}[i], Body: body, EventSource: "aws:sqs"})
	}
	payload, _ := json.Marshal(batch)
	out, err := h.Handle(ctx, payload)
	if err != nil {
		t.Fatal(err)
	}
	resp := out.(lambdaevents.SQSEventResponse)
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	if !slices.Equal(failed, []string{"m1"}) {
		t.Errorf("failed records %v, want only the malformed m1\nlogs:\n%s", failed, logs.String())
	}
	for _, key := range []string{"good one.txt", "good+two.txt"} {
		get, err := us.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(us.Bucket), Key: aws.String(key)})
		if err != nil {
			t.Errorf("replica of %q: %v", key, err)
			continue
		}
		b, _ := io.ReadAll(get.Body)
		get.Body.Close()
		if string(b) != "data "+key {
			t.Errorf("replica of %q holds %q", key, b)
		}
	}
	if !strings.Contains(stdout.String(), `"Replicated":1`) {
		t.Errorf("no Replicated metric on stdout:\n%s", stdout.String())
	}
}
