package s3store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mrap-engine/mrap/shared/replication"
	"github.com/mrap-engine/mrap/shared/s3store"
)

// TestVersitygwHonoursWriteConditions pins down what versitygw v1.8.0 does with each
// condition the engine sends, for every write the streaming store makes: PutObject,
// CompleteMultipartUpload and DeleteObject.
func TestVersitygwHonoursWriteConditions(t *testing.T) {
	eu, us := startRegion(t, "eu-west-1"), startRegion(t, "us-east-1")
	ctx := context.Background()
	clients := map[string]s3store.S3API{"eu-west-1": eu.Client(), "us-east-1": us.Client()}
	small, err := s3store.New(clients, s3store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	multipart, err := s3store.New(clients, s3store.Options{MultipartThreshold: 5 * s3store.MiB, PartSize: 5 * s3store.MiB, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	put := func(c *s3.Client, bucket, key, body string) {
		t.Helper()
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	dstETag := func(key string) string {
		t.Helper()
		v, err := small.Head(ctx, "us-east-1", us.Bucket, key)
		if err != nil {
			t.Fatal(err)
		}
		return v.ETag
	}
	tests := []struct {
		name       string
		store      *s3store.Store
		size       int
		dest       func(key string) replication.Condition // prepares the destination, returns the condition sent
		wantFailed bool
	}{
		{name: "PutObject If-None-Match over nothing", store: small, size: 10, dest: func(string) replication.Condition {
			return replication.Condition{IfAbsent: true}
		}},
		{name: "PutObject If-None-Match over an object", store: small, size: 10, dest: func(k string) replication.Condition {
			put(us.Client(), us.Bucket, k, "there")
			return replication.Condition{IfAbsent: true}
		}, wantFailed: true},
		{name: "PutObject If-Match current ETag", store: small, size: 10, dest: func(k string) replication.Condition {
			put(us.Client(), us.Bucket, k, "there")
			return replication.Condition{IfMatch: dstETag(k)}
		}},
		{name: "PutObject If-Match stale ETag", store: small, size: 10, dest: func(k string) replication.Condition {
			put(us.Client(), us.Bucket, k, "first")
			e := dstETag(k)
			put(us.Client(), us.Bucket, k, "second")
			return replication.Condition{IfMatch: e}
		}, wantFailed: true},
		// AWS counts a current delete marker as no object; versitygw v1.8.0 keeps the
		// hidden object's ETag on the key and answers 412. The engine reads the destination
		// again, sees the same delete marker and writes unconditionally, then verifies.
		{name: "PutObject If-None-Match over a delete marker (versitygw: 412)", store: small, size: 10, dest: func(k string) replication.Condition {
			put(us.Client(), us.Bucket, k, "there")
			if _, err := us.Client().DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(us.Bucket), Key: aws.String(k)}); err != nil {
				t.Fatal(err)
			}
			return replication.Condition{IfAbsent: true}
		}, wantFailed: true},
		{name: "CompleteMultipartUpload If-Match stale ETag", store: multipart, size: 6 * s3store.MiB, dest: func(k string) replication.Condition {
			put(us.Client(), us.Bucket, k, "first")
			e := dstETag(k)
			put(us.Client(), us.Bucket, k, "second")
			return replication.Condition{IfMatch: e}
		}, wantFailed: true},
		{name: "CompleteMultipartUpload If-None-Match over nothing", store: multipart, size: 6 * s3store.MiB, dest: func(string) replication.Condition {
			return replication.Condition{IfAbsent: true}
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := trickyKey + "-cond" + string(rune('a'+i))
			put(eu.Client(), eu.Bucket, key, strings.Repeat("s", tt.size))
			v := headSource(t, tt.store, eu.Bucket, key)
			cond := tt.dest(key)
			before, err := tt.store.Head(ctx, "us-east-1", us.Bucket, key)
			if err != nil {
				t.Fatal(err)
			}
			_, err = tt.store.Copy(ctx, replication.CopyRequest{SourceRegion: "eu-west-1", SourceBucket: eu.Bucket, Key: key, Source: v,
				DestRegion: "us-east-1", DestBucket: us.Bucket, Marks: replication.Origin{Region: "eu-west-1", VersionID: v.VersionID, Time: v.LastModified}.Marks(),
				Condition: cond})
			if got := errors.Is(err, replication.ErrConditionFailed); got != tt.wantFailed {
				t.Fatalf("copy (%s): error %v, condition failed %v, want %v", cond, err, got, tt.wantFailed)
			}
			if !tt.wantFailed && err != nil {
				t.Fatal(err)
			}
			after, err := tt.store.Head(ctx, "us-east-1", us.Bucket, key)
			if err != nil {
				t.Fatal(err)
			}
			if changed := after.VersionID != before.VersionID; changed == tt.wantFailed {
				t.Errorf("destination changed %v after a copy whose condition failed %v", changed, tt.wantFailed)
			}
		})
	}

	t.Run("DeleteObject If-Match", func(t *testing.T) {
		key := trickyKey + "-delete"
		put(us.Client(), us.Bucket, key, "first")
		stale := dstETag(key)
		put(us.Client(), us.Bucket, key, "second")
		if err := small.PutDeleteMarkerIf(ctx, "us-east-1", us.Bucket, key, replication.Condition{IfMatch: stale}); !errors.Is(err, replication.ErrConditionFailed) {
			t.Fatalf("stale ETag: %v, want a failed condition", err)
		}
		if err := small.PutDeleteMarkerIf(ctx, "us-east-1", us.Bucket, key, replication.Condition{IfMatch: dstETag(key)}); err != nil {
			t.Fatalf("current ETag: %v", err)
		}
		if v, err := small.Head(ctx, "us-east-1", us.Bucket, key); err != nil || !v.DeleteMarker {
			t.Fatalf("after the delete: %+v %v, want a delete marker", v, err)
		}
	})
}
