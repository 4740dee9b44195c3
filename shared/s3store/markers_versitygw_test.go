package s3store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mrap-engine/mrap/shared/replication"
	"github.com/mrap-engine/mrap/shared/s3store"
)

// TestDeleteMarkerRecordsAgainstVersitygw: a delete marker the engine writes reads back with
// the origin it replicates; a user's marker, a record of another key (hash collision) and a
// record under another version id leave a marker original.
func TestDeleteMarkerRecordsAgainstVersitygw(t *testing.T) {
	eu := startRegion(t, "eu-west-1")
	ctx := context.Background()
	c, b := eu.Client(), eu.Bucket
	store, err := s3store.New(map[string]s3store.S3API{"eu-west-1": c}, s3store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	origin := replication.Origin{Region: "us-east-1", VersionID: "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrH", Time: time.Date(2026, 11, 25, 19, 0, 10, 0, time.UTC), Sequencer: "0062E99A88DC407001"}
	long := strings.Repeat("日本/", 140) + "x" // 981 bytes: percent-encoded it would not fit in 2 KB of metadata
	for name, key := range map[string]string{"tricky key": trickyKey, "981-byte key": long} {
		t.Run(name, func(t *testing.T) {
			if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String(key), Body: strings.NewReader("x")}); err != nil {
				t.Fatal(err)
			}
			if err := store.PutReplicaDeleteMarker(ctx, "eu-west-1", b, key, origin, replication.Condition{}); err != nil {
				t.Fatal(err)
			}
			cur, err := store.Head(ctx, "eu-west-1", b, key)
			if err != nil || !cur.DeleteMarker {
				t.Fatalf("Head = %+v, %v; want the delete marker", cur, err)
			}
			if got := replication.DestinationOrigin("eu-west-1", cur); got != origin {
				t.Errorf("origin of the engine's marker %v, want %v", got, origin)
			}
			versions, err := store.ListVersions(ctx, "eu-west-1", b, key)
			if err != nil || len(versions) != 2 {
				t.Errorf("ListVersions = %d versions, %v; want the object and the marker only", len(versions), err)
			}
			if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String(s3store.MarkerRecordKey(key, cur.VersionID))}); err != nil {
				t.Errorf("no record under %s: %v", s3store.MarkerRecordKey(key, cur.VersionID), err)
			}
			if !replication.IsInternalKey(s3store.MarkerRecordKey(key, cur.VersionID)) {
				t.Error("the record is not under the engine's internal prefix")
			}
		})
	}

	t.Run("a user's delete marker is an original", func(t *testing.T) {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("user"), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
		if err := store.PutDeleteMarker(ctx, "eu-west-1", b, "user"); err != nil {
			t.Fatal(err)
		}
		cur, err := store.Head(ctx, "eu-west-1", b, "user")
		if err != nil || !cur.DeleteMarker || cur.Metadata != nil {
			t.Errorf("Head = %+v, %v; want a marker without marks", cur, err)
		}
	})

	t.Run("a record naming another key is ignored", func(t *testing.T) {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("collide"), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
		if err := store.PutDeleteMarker(ctx, "eu-west-1", b, "collide"); err != nil {
			t.Fatal(err)
		}
		cur, err := store.Head(ctx, "eu-west-1", b, "collide")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String(s3store.MarkerRecordKey("collide", cur.VersionID)),
			Body: strings.NewReader("another key"), Metadata: origin.Marks()}); err != nil {
			t.Fatal(err)
		}
		marks, err := store.MarkerMarks(ctx, "eu-west-1", b, "collide", cur.VersionID)
		if err != nil || marks != nil {
			t.Errorf("MarkerMarks = %v, %v; want none", marks, err)
		}
	})
}
