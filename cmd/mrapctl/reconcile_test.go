package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mrap-engine/mrap/shared/local/runtime"
	"github.com/mrap-engine/mrap/shared/local/s3server"
	"github.com/mrap-engine/mrap/shared/local/s3server/s3servertest"
)

func TestReconcileAndRedriveCommandLineErrors(t *testing.T) {
	t.Setenv("MRAP_MEMBERS", "")
	t.Setenv("MRAP_REPLICATOR_DLQ_ARNS", "")
	tests := []struct {
		name    string
		args    []string
		wantMsg string
	}{
		{"reconcile takes no arguments", []string{"reconcile", "extra"}, "reconcile takes no arguments"},
		{"reconcile without a runtime", []string{"reconcile", "--data", "/nonexistent/mrap"}, "no local runtime found in /nonexistent/mrap"},
		{"reconcile on AWS without members", []string{"reconcile", "--aws"}, "MRAP_MEMBERS"},
		{"redrive rate above the SQS limit", []string{"redrive", "--rate", "900"}, "want 0 to 500"},
		{"redrive of something that is not a queue", []string{"redrive", "--dlq-arn", "arn:aws:s3:::bucket"}, "is not an SQS queue ARN"},
		{"redrive without a runtime", []string{"redrive", "--data", "/nonexistent/mrap"}, "no local runtime found"},
		{"redrive to a queue of another Region", []string{"redrive", "--dlq-arn", "arn:aws:sqs:us-east-1:1:dlq", "--queue-arn", "arn:aws:sqs:eu-west-1:1:q"}, "no queue in us-east-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, &stdout, &stderr)
			if err == nil {
				t.Fatalf("run(%q) succeeded", tt.args)
			}
			if all := err.Error() + stdout.String() + stderr.String(); !strings.Contains(all, tt.wantMsg) {
				t.Errorf("output %q, want %q", all, tt.wantMsg)
			}
		})
	}
}

// TestReconcileLocal points mrapctl at two versitygw Regions through an endpoints file, like
// the local runtime writes, and reconciles objects written in one of them.
func TestReconcileLocal(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	ep := runtime.Endpoints{AccessKeyID: "mrapctl-test", SecretAccessKey: "mrapctl-test-secret"}
	srvs := s3servertest.StartRegions(t, s3server.Options{AccessKey: ep.AccessKeyID, SecretKey: ep.SecretAccessKey}, "us-east-1", "eu-west-1")
	for _, srv := range srvs {
		ep.Regions = append(ep.Regions, runtime.RegionEndpoint{Region: srv.Region, Endpoint: srv.Endpoint, Bucket: srv.Bucket})
	}
	first := srvs[0]
	writeEndpoints(t, data, ep)
	for i := range 5 {
		if _, err := first.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(first.Bucket), Key: aws.String(fmt.Sprintf("k%d", i)), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
	}
	report := filepath.Join(t.TempDir(), "report.jsonl")

	var stdout, stderr bytes.Buffer
	if err := run(ctx, []string{"reconcile", "--data", data, "--dry-run", "--quiet"}, &stdout, &stderr); err != nil {
		t.Fatalf("dry run: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "5 repairs planned, 0 would repair (dry run)") {
		t.Errorf("dry-run summary:\n%s", stdout.String())
	}

	stdout.Reset()
	stderr.Reset()
	if err := run(ctx, []string{"reconcile", "--data", data, "--report", report, "--page-size", "2", "--estimated-keys", "5"}, &stdout, &stderr); err != nil {
		t.Fatalf("reconcile: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "5 keys scanned") || !strings.Contains(stdout.String(), "5 repairs planned, 5 repaired") {
		t.Errorf("summary:\n%s", stdout.String())
	}
	if !strings.Contains(stderr.String(), "keys/s") || !strings.Contains(stderr.String(), "100%") {
		t.Errorf("no progress bar on stderr: %q", stderr.String())
	}
	f, err := os.Open(report)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines := 0
	for sc := bufio.NewScanner(f); sc.Scan(); lines++ {
		var l reportLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil || l.Kind != "missing-replica" || l.Region != "eu-west-1" || l.Status != "replicated" {
			t.Errorf("report line %s (%v)", sc.Text(), err)
		}
	}
	if lines != 5 {
		t.Errorf("report has %d lines, want 5", lines)
	}
	if _, err := os.Stat(filepath.Join(data, "reconcile-checkpoint.json")); err != nil {
		t.Errorf("no checkpoint in the data folder: %v", err)
	}

	stdout.Reset()
	if err := run(ctx, []string{"reconcile", "--data", data, "--quiet"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "0 repairs planned") || !strings.Contains(stdout.String(), "10 origin reads") {
		t.Errorf("second pass (reads every key, writes the index):\n%s", stdout.String())
	}
	stdout.Reset()
	if err := run(ctx, []string{"reconcile", "--data", data, "--quiet"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "0 origin reads") || !strings.Contains(stdout.String(), "5 keys settled without a read") {
		t.Errorf("third pass (settled by the index in DATA/reconcile-index):\n%s", stdout.String())
	}
	if chunks, _ := filepath.Glob(filepath.Join(data, "reconcile-index", "*", "[ab]", "*.gz")); len(chunks) == 0 {
		t.Errorf("no index chunk under %s", filepath.Join(data, "reconcile-index"))
	}
	stdout.Reset()
	if err := run(ctx, []string{"reconcile", "--data", data, "--quiet", "--index", "off"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "10 origin reads") || strings.Contains(stdout.String(), "index:") {
		t.Errorf("pass with --index off:\n%s", stdout.String())
	}
}

// TestReconcileAWSModeOpensTheFunctionsConfig runs `reconcile --aws` with the reconciler
// function's environment (MRAP_MEMBERS, MRAP_ENDPOINTS, credentials from the usual
// variables) against two local Regions, with the checkpoint in an S3 object: the objects of
// one Region reach the other and a second pass resumes nothing to do.
func TestReconcileAWSModeOpensTheFunctionsConfig(t *testing.T) {
	ctx := context.Background()
	srvs := s3servertest.StartRegions(t, s3server.Options{}, "us-east-1", "eu-west-1")
	us, eu := srvs[0], srvs[1]
	if _, err := us.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("mrap-state")}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := us.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(us.Bucket), Key: aws.String(fmt.Sprintf("k%d", i)), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("AWS_ACCESS_KEY_ID", us.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", us.SecretKey)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("MRAP_MEMBERS", "us-east-1="+us.Bucket+",eu-west-1="+eu.Bucket)
	t.Setenv("MRAP_ENDPOINTS", "us-east-1="+us.Endpoint+",eu-west-1="+eu.Endpoint)
	var stdout, stderr bytes.Buffer
	args := []string{"reconcile", "--aws", "--quiet", "--checkpoint", "s3://mrap-state/reconcile.json"}
	if err := run(ctx, args, &stdout, &stderr); err != nil {
		t.Fatalf("reconcile --aws: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "3 repairs planned, 3 repaired") || !strings.Contains(stderr.String(), "(AWS)") {
		t.Errorf("first pass:\n%s%s", stdout.String(), stderr.String())
	}
	if _, err := eu.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(eu.Bucket), Key: aws.String("k2")}); err != nil {
		t.Errorf("k2 not in eu-west-1: %v", err)
	}
	if _, err := us.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("mrap-state"), Key: aws.String("reconcile.json")}); err != nil {
		t.Errorf("no checkpoint object: %v", err)
	}
	stdout.Reset()
	if err := run(ctx, append(args, "--restart"), &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "0 repairs planned") {
		t.Errorf("second pass:\n%s", stdout.String())
	}
	t.Setenv("MRAP_MAX_ATTEMPTS", "0")
	if err := run(ctx, args, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "MRAP_MAX_ATTEMPTS") {
		t.Errorf("bad MRAP_MAX_ATTEMPTS: err %v, want the function's loader to name it", err)
	}
}

func TestRedriveLocal(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != runtime.PathRedrive {
			http.NotFound(w, r)
			return
		}
		calls++
		fmt.Fprint(w, `{"redriven":3}`)
	}))
	defer srv.Close()
	data := t.TempDir()
	writeEndpoints(t, data, runtime.Endpoints{ControlEndpoint: srv.URL})
	t.Setenv("MRAP_REPLICATOR_DLQ_ARNS", "")
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"redrive", "--data", data}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if calls != 1 || !strings.Contains(stdout.String(), "redrove 3 dead-lettered events") {
		t.Errorf("calls %d, output %q", calls, stdout.String())
	}
}

func writeEndpoints(t *testing.T, dir string, ep runtime.Endpoints) {
	t.Helper()
	b, _ := json.Marshal(ep)
	if err := os.WriteFile(filepath.Join(dir, "endpoints.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}
