package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mrap-engine/mrap/shared/local/s3server"
	"github.com/mrap-engine/mrap/shared/local/s3server/s3servertest"
	"github.com/mrap-engine/mrap/shared/telemetry"
)

func lookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadConfigReportsProblems(t *testing.T) {
	_, err := LoadConfig(lookup(map[string]string{
		"AWS_REGION":   "ap-south-1",
		"MRAP_MEMBERS": "us-east-1=a,eu-west-1=b",
		"MRAP_ARN":     "alias-only",
	}))
	for _, want := range []string{"no bucket for this function's Region ap-south-1", `MRAP_ARN: want`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to mention %q", err, want)
		}
	}
}

// TestProberFunctionAgainstVersitygw wires the function as on AWS but with local endpoints:
// this Region's bucket and a stand-in global endpoint serving the alias as a bucket.
func TestProberFunctionAgainstVersitygw(t *testing.T) {
	ctx := context.Background()
	s := s3servertest.Start(t, s3server.Options{Region: "eu-west-1"})
	const alias = "mfzwi23gnjvgw.mrap"
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(alias)}); err != nil {
		t.Fatalf("create alias bucket: %v", err)
	}
	if _, err := s.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(alias), Key: aws.String(".mrap-canary/global"), Body: strings.NewReader("g")}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", s.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s.SecretKey)
	var stdout bytes.Buffer
	p, err := Setup(ctx, lookup(map[string]string{
		"AWS_REGION":           "eu-west-1",
		"MRAP_MEMBERS":         "us-east-1=data-use1,eu-west-1=" + s.Bucket,
		"MRAP_ARN":             "arn:aws:s3::123456789012:accesspoint/" + alias,
		"MRAP_ENDPOINTS":       "eu-west-1=" + s.Endpoint,
		"MRAP_GLOBAL_ENDPOINT": s.Endpoint,
	}), &stdout, telemetry.Discard())
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	reports, err := handler(p)(ctx, json.RawMessage(`{"source":"aws.events","detail-type":"Scheduled Event"}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) != 2 || !reports[0].OK || reports[0].Path != "regional" || !reports[1].OK || reports[1].Path != "global" {
		t.Fatalf("reports = %+v, want regional and global OK", reports)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"CanaryAvailability":1`) || !strings.Contains(lines[1], `"Path":"global"`) {
		t.Errorf("EMF lines = %q", lines)
	}
	// Stop the Region: the next probe reports it unavailable, without failing the invocation.
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	reports, err = handler(p)(ctx, nil)
	if err != nil || reports[0].OK || reports[0].Error == "" {
		t.Errorf("after stop: %+v, %v; want a failed regional probe and no error", reports, err)
	}
}
