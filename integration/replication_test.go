package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/mrap-engine/mrap/events"
	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/local/s3server"
	"github.com/mrap-engine/mrap/shared/replication"
	"github.com/mrap-engine/mrap/shared/s3store"
)

// replRegions is two local Regions (one versitygw process each) and an engine between them.
type replRegions struct {
	eu, us  *s3server.Server
	engine  *replication.Engine
	members []config.Member
}

func startReplRegions(t *testing.T, storeOpts s3store.Options) *replRegions {
	t.Helper()
	r := &replRegions{}
	srvs := startRegions(t, "eu-west-1", "us-east-1")
	r.eu, r.us = srvs[0], srvs[1]
	r.members = []config.Member{{Region: "eu-west-1", Bucket: r.eu.Bucket}, {Region: "us-east-1", Bucket: r.us.Bucket}}
	store, err := s3store.New(map[string]s3store.S3API{"eu-west-1": r.eu.Client(), "us-east-1": r.us.Client()}, storeOpts)
	if err != nil {
		t.Fatal(err)
	}
	if r.engine, err = replication.New(store, r.members, replication.Options{}); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *replRegions) server(region string) *s3server.Server {
	if region == "eu-west-1" {
		return r.eu
	}
	return r.us
}

// envelope is the EventBridge "Object Created" / "Object Deleted" event S3 would emit for a
// write, with the key form-URL-encoded as in S3 notifications.
func envelope(region, bucket, key, versionID string, size int64, deleteMarker bool) []byte {
	ev := events.S3ObjectEvent{
		Envelope: events.Envelope{
			Version: "0", ID: "it-" + versionID, DetailType: events.DetailTypeObjectCreated, Source: events.S3EventSource,
			AccountID: "111122223333", Time: time.Now().UTC().Truncate(time.Second), Region: region, Resources: []string{"arn:aws:s3:::" + bucket},
		},
		Detail: events.S3ObjectDetail{
			Version: "0", Bucket: events.S3DetailBucket{Name: bucket},
			Object:    events.S3DetailObject{Key: strings.ReplaceAll(url.QueryEscape(key), "%2F", "/"), Size: size, VersionID: versionID},
			RequestID: "R", Requester: "111122223333", Reason: events.ReasonPutObject,
		},
	}
	if deleteMarker {
		ev.DetailType, ev.Detail.Reason, ev.Detail.DeletionType, ev.Detail.Object.Size = events.DetailTypeObjectDeleted, events.ReasonDeleteObject, events.DeletionTypeMarker, 0
	}
	b, _ := json.Marshal(ev)
	return b
}

// apply parses an envelope like the replicator does and applies it.
func (r *replRegions) apply(t *testing.T, body []byte) replication.Result {
	t.Helper()
	changes, err := events.ParseObjectChanges(body)
	if err != nil || len(changes) != 1 {
		t.Fatalf("parse: %v (%d changes)", err, len(changes))
	}
	res, err := r.engine.Apply(context.Background(), changes[0])
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return res
}

func (r *replRegions) put(t *testing.T, region, key string, body []byte, in *s3.PutObjectInput) (string, []byte) {
	t.Helper()
	srv := r.server(region)
	if in == nil {
		in = &s3.PutObjectInput{}
	}
	in.Bucket, in.Key, in.Body = aws.String(srv.Bucket), aws.String(key), bytes.NewReader(body)
	out, err := srv.Client().PutObject(context.Background(), in)
	if err != nil {
		t.Fatalf("put %q in %s: %v", key, region, err)
	}
	v := aws.ToString(out.VersionId)
	return v, envelope(region, srv.Bucket, key, v, int64(len(body)), false)
}

func (r *replRegions) del(t *testing.T, region, key string) []byte {
	t.Helper()
	srv := r.server(region)
	out, err := srv.Client().DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(srv.Bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	return envelope(region, srv.Bucket, key, aws.ToString(out.VersionId), 0, true)
}

type current struct {
	exists, deleteMarker bool
	body                 []byte
	metadata             map[string]string
	contentType          string
	tags                 map[string]string
}

func (r *replRegions) current(t *testing.T, region, key string) current {
	t.Helper()
	ctx := context.Background()
	srv := r.server(region)
	get, err := srv.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(srv.Bucket), Key: aws.String(key)})
	if err != nil {
		var nsk *types.NoSuchKey
		if !errors.As(err, &nsk) {
			t.Fatalf("get %q in %s: %v", key, region, err)
		}
		list, err := srv.Client().ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(srv.Bucket), Prefix: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range list.DeleteMarkers {
			if aws.ToString(m.Key) == key && aws.ToBool(m.IsLatest) {
				return current{exists: true, deleteMarker: true}
			}
		}
		return current{}
	}
	defer get.Body.Close()
	body, _ := io.ReadAll(get.Body)
	c := current{exists: true, body: body, metadata: get.Metadata, contentType: aws.ToString(get.ContentType), tags: map[string]string{}}
	tags, err := srv.Client().GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(srv.Bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range tags.TagSet {
		c.tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
	}
	return c
}

func (r *replRegions) versionCount(t *testing.T, region, key string) int {
	t.Helper()
	srv := r.server(region)
	list, err := srv.Client().ListObjectVersions(context.Background(), &s3.ListObjectVersionsInput{Bucket: aws.String(srv.Bucket), Prefix: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range list.Versions {
		if aws.ToString(v.Key) == key {
			n++
		}
	}
	for _, m := range list.DeleteMarkers {
		if aws.ToString(m.Key) == key {
			n++
		}
	}
	return n
}

func outcome(res replication.Result, region string) string {
	for _, o := range res.Destinations {
		if o.Region == region {
			return string(o.Status) + ":" + o.Reason
		}
	}
	return "none"
}

// longKey is a 1024-byte key; folders keep each path element under the file system's 255 bytes.
func longKey() string {
	var b strings.Builder
	for b.Len() < 1024-201 {
		b.WriteString(strings.Repeat("x", 200) + "/")
	}
	b.WriteString(strings.Repeat("y", 1024-b.Len()))
	return b.String()
}

func TestReplicationBetweenLocalRegions(t *testing.T) {
	r := startReplRegions(t, s3store.Options{})

	t.Run("tricky keys", func(t *testing.T) {
		for _, key := range []string{"a b.txt", "c++/notes+1.md", "100% done.txt", "time 10:47:07.log", "café/日本語/😀.bin", "q?x=1&y=2#frag", longKey()} {
			if len(key) > 60 {
				t.Logf("long key: %d bytes", len(key))
			}
			_, ev := r.put(t, "eu-west-1", key, []byte("body of "+key), nil)
			res := r.apply(t, ev)
			if got := outcome(res, "us-east-1"); got != "replicated:" {
				t.Errorf("key %q: %s, want replicated", key, got)
				continue
			}
			if got := r.current(t, "us-east-1", key); string(got.body) != "body of "+key {
				t.Errorf("key %q: replica body %q", key, got.body)
			}
		}
	})

	t.Run("metadata, headers and tags", func(t *testing.T) {
		key := "docs/report 2026.pdf"
		v, ev := r.put(t, "eu-west-1", key, []byte("%PDF-1.7"), &s3.PutObjectInput{
			Metadata: map[string]string{"author": "ana", "dept": "r&d"}, ContentType: aws.String("application/pdf"),
			Tagging: aws.String("class=internal&year=2026"), ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		})
		res := r.apply(t, ev)
		if res.Bytes() != 8 {
			t.Errorf("bytes = %d, want 8", res.Bytes())
		}
		got := r.current(t, "us-east-1", key)
		want := map[string]string{"author": "ana", "dept": "r&d", replication.MarkOriginRegion: "eu-west-1", replication.MarkOriginVersionID: v}
		for k, val := range want {
			if got.metadata[k] != val {
				t.Errorf("metadata %s = %q, want %q", k, got.metadata[k], val)
			}
		}
		if _, err := time.Parse(time.RFC3339Nano, got.metadata[replication.MarkOriginTime]); err != nil {
			t.Errorf("origin time mark %q: %v", got.metadata[replication.MarkOriginTime], err)
		}
		if got.contentType != "application/pdf" || !maps.Equal(got.tags, map[string]string{"class": "internal", "year": "2026"}) {
			t.Errorf("content type %q tags %v", got.contentType, got.tags)
		}
	})

	t.Run("overwrite, duplicate, replica echo", func(t *testing.T) {
		key := "overwrite.txt"
		_, ev1 := r.put(t, "eu-west-1", key, []byte("one"), nil)
		r.apply(t, ev1)
		time.Sleep(1100 * time.Millisecond) // a later second: origin times are whole seconds
		_, ev2 := r.put(t, "eu-west-1", key, []byte("two"), nil)
		if got := outcome(r.apply(t, ev2), "us-east-1"); got != "replicated:" {
			t.Fatalf("overwrite: %s", got)
		}
		if got := r.current(t, "us-east-1", key); string(got.body) != "two" {
			t.Errorf("replica holds %q, want two", got.body)
		}
		n := r.versionCount(t, "us-east-1", key)
		if got := outcome(r.apply(t, ev2), "us-east-1"); got != "skipped:duplicate" {
			t.Errorf("duplicate event: %s, want skipped:duplicate", got)
		}
		if r.versionCount(t, "us-east-1", key) != n {
			t.Error("duplicate event wrote a version")
		}
		// The replica's own event in us-east-1 must not come back to eu-west-1.
		head, err := r.us.Client().HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(r.us.Bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		euVersions := r.versionCount(t, "eu-west-1", key)
		echo := envelope("us-east-1", r.us.Bucket, key, aws.ToString(head.VersionId), 3, false)
		if got := outcome(r.apply(t, echo), "eu-west-1"); got != "skipped:replica" {
			t.Errorf("replica event: %s, want skipped:replica", got)
		}
		if r.versionCount(t, "eu-west-1", key) != euVersions {
			t.Error("replica event looped back to its origin")
		}
	})

	t.Run("reordered events never regress", func(t *testing.T) {
		key := "reordered.txt"
		_, ev1 := r.put(t, "eu-west-1", key, []byte("old"), nil)
		time.Sleep(1100 * time.Millisecond)
		_, ev2 := r.put(t, "eu-west-1", key, []byte("new"), nil)
		r.apply(t, ev2)
		if got := outcome(r.apply(t, ev1), "us-east-1"); got != "skipped:superseded" {
			t.Errorf("late event: %s, want skipped:superseded", got)
		}
		if got := r.current(t, "us-east-1", key); string(got.body) != "new" {
			t.Errorf("replica holds %q, want new", got.body)
		}
	})

	t.Run("delete marker", func(t *testing.T) {
		key := "to delete/file.txt"
		_, ev := r.put(t, "eu-west-1", key, []byte("doomed"), nil)
		r.apply(t, ev)
		time.Sleep(1100 * time.Millisecond)
		del := r.del(t, "eu-west-1", key)
		if got := outcome(r.apply(t, del), "us-east-1"); got != "replicated:" {
			t.Fatalf("delete marker: %s", got)
		}
		if got := r.current(t, "us-east-1", key); !got.deleteMarker {
			t.Errorf("replica current = %+v, want a delete marker", got)
		}
		if got := outcome(r.apply(t, del), "us-east-1"); got != "skipped:destination-deleted" {
			t.Errorf("duplicate delete: %s, want skipped:destination-deleted", got)
		}
		// The late create event of the deleted version is superseded by the delete marker.
		if got := outcome(r.apply(t, ev), "us-east-1"); got != "skipped:superseded" {
			t.Errorf("late create after delete: %s, want skipped:superseded", got)
		}
	})

	t.Run("concurrent writes in two Regions converge", func(t *testing.T) {
		for i, order := range [][2]string{{"eu-west-1", "us-east-1"}, {"us-east-1", "eu-west-1"}} {
			key := fmt.Sprintf("contended-%d.txt", i)
			evs := map[string][]byte{}
			for _, region := range []string{"eu-west-1", "us-east-1"} {
				_, evs[region] = r.put(t, region, key, []byte("from "+region), nil)
			}
			// The winner by the documented rule, from the two originals as written.
			origins := map[string]replication.Origin{}
			for _, region := range []string{"eu-west-1", "us-east-1"} {
				srv := r.server(region)
				h, err := srv.Client().HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(srv.Bucket), Key: aws.String(key)})
				if err != nil {
					t.Fatal(err)
				}
				origins[region], _, _ = replication.OriginOf(region, aws.ToString(h.VersionId), aws.ToTime(h.LastModified), "", nil)
			}
			winner := "us-east-1"
			if replication.Wins(origins["eu-west-1"], origins["us-east-1"]) {
				winner = "eu-west-1"
			}
			r.apply(t, evs[order[0]])
			r.apply(t, evs[order[1]])
			for _, region := range []string{"eu-west-1", "us-east-1"} {
				if got := r.current(t, region, key); string(got.body) != "from "+winner {
					t.Errorf("order %v: %s holds %q, want the winner's %q", order, region, got.body, "from "+winner)
				}
			}
		}
	})
}

func TestReplicationMultipartPath(t *testing.T) {
	r := startReplRegions(t, s3store.Options{MultipartThreshold: 5 * s3store.MiB, PartSize: 5 * s3store.MiB, Concurrency: 2})
	body := make([]byte, 13*s3store.MiB+7)
	_, _ = rand.Read(body)
	_, ev := r.put(t, "eu-west-1", "big/object.bin", body, &s3.PutObjectInput{Metadata: map[string]string{"kind": "big"}, Tagging: aws.String("size=large")})
	res := r.apply(t, ev)
	if got := outcome(res, "us-east-1"); got != "replicated:" {
		t.Fatalf("multipart copy: %s", got)
	}
	if res.Bytes() != int64(len(body)) {
		t.Errorf("bytes = %d, want %d", res.Bytes(), len(body))
	}
	got := r.current(t, "us-east-1", "big/object.bin")
	if !bytes.Equal(got.body, body) || got.metadata["kind"] != "big" || got.tags["size"] != "large" {
		t.Errorf("multipart replica differs: %d bytes, metadata %v, tags %v", len(got.body), got.metadata, got.tags)
	}
}
