package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mrap-engine/mrap/shared/local/s3server"
	"github.com/mrap-engine/mrap/shared/local/s3server/s3servertest"
	"github.com/mrap-engine/mrap/shared/reconciler"
)

// TestSetupAgainstVersitygw wires the function from its environment against two local
// Regions, with the checkpoint in a state bucket, and runs three invocations: the first repairs
// the objects written before deployment, the second finds nothing to do (it reads every key
// and writes the verified-versions index), the third is settled by the index without a read.
func TestSetupAgainstVersitygw(t *testing.T) {
	ctx := context.Background()
	srvs := s3servertest.StartRegions(t, s3server.Options{}, "us-east-1", "eu-west-1")
	us := srvs[0].Client()
	if _, err := us.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("mrap-state")}); err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		if _, err := us.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(srvs[0].Bucket), Key: aws.String(fmt.Sprintf("old/%02d", i)), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("AWS_ACCESS_KEY_ID", srvs[0].AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srvs[0].SecretKey)
	env := map[string]string{
		"MRAP_MEMBERS":                     fmt.Sprintf("us-east-1=%s,eu-west-1=%s", srvs[0].Bucket, srvs[1].Bucket),
		"MRAP_ENDPOINTS":                   fmt.Sprintf("us-east-1=%s,eu-west-1=%s", srvs[0].Endpoint, srvs[1].Endpoint),
		"MRAP_RECONCILE_CHECKPOINT":        "s3://mrap-state/reconcile/checkpoint.json",
		"MRAP_RECONCILE_CHECKPOINT_REGION": "us-east-1",
		"MRAP_RECONCILE_MIN_AGE":           "0s",
		"MRAP_RECONCILE_PAGE_SIZE":         "5",
	}
	var metrics bytes.Buffer
	h, err := Setup(ctx, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, &metrics, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	invoke := func() (reconciler.Report, map[string]any) {
		metrics.Reset()
		c, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		rep, err := h.Handle(c, json.RawMessage(`{"source":"aws.scheduler"}`))
		if err != nil {
			t.Fatal(err)
		}
		var emf map[string]any
		if err := json.Unmarshal(metrics.Bytes(), &emf); err != nil {
			t.Fatalf("metrics %q: %v", metrics.String(), err)
		}
		return rep, emf
	}
	rep, emf := invoke()
	if !rep.Complete || rep.KeysScanned != 12 || rep.RepairsDone != 12 || emf["Divergence"] != 12.0 {
		t.Fatalf("first invocation %+v, Divergence %v; want 12 keys repaired", rep, emf["Divergence"])
	}
	out, err := srvs[1].Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(srvs[1].Bucket)})
	if err != nil || len(out.Contents) != 12 {
		t.Fatalf("eu-west-1 holds %d objects (%v), want 12", len(out.Contents), err)
	}
	cp, err := us.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mrap-state"), Key: aws.String("reconcile/checkpoint.json")})
	if err != nil {
		t.Fatalf("no checkpoint object: %v", err)
	}
	cp.Body.Close()
	rep, emf = invoke()
	if !rep.Complete || rep.KeysScanned != 12 || rep.RepairsPlanned != 0 || emf["Divergence"] != 0.0 || rep.Reads != 24 || rep.IndexChunksWritten != 3 {
		t.Errorf("second invocation %+v, Divergence %v; want a clean pass reading every key and writing the index", rep, emf["Divergence"])
	}
	idx, err := us.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("mrap-state"), Prefix: aws.String("reconcile/index/")})
	if err != nil || len(idx.Contents) != 3 {
		t.Errorf("index chunks next to the checkpoint: %d (%v), want 3", len(idx.Contents), err)
	}
	rep, emf = invoke()
	if !rep.Complete || rep.RepairsPlanned != 0 || rep.Reads != 0 || rep.KeysSettledByIndex != 12 || emf["KeysSettledByIndex"] != 12.0 || emf["ObjectReads"] != 0.0 {
		t.Errorf("third invocation %+v, metrics %v; want every key settled by the index, no read", rep, emf)
	}
}
