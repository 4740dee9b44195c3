package s3store_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mrap-engine/mrap/shared/local/s3server"
	"github.com/mrap-engine/mrap/shared/local/s3server/s3servertest"
	"github.com/mrap-engine/mrap/shared/reconcile"
	"github.com/mrap-engine/mrap/shared/s3store"
)

func startListRegion(t *testing.T, region string) *s3server.Server {
	t.Helper()
	return s3servertest.Start(t, s3server.Options{Region: region})
}

const listTrickyKey = "dir/a b+c%d:e/café 日本😀.txt"

// TestListVersionsPageAgainstVersitygw pages through keys with several versions and delete
// markers, two entries per page, and checks order, current flags and markers.
func TestListVersionsPageAgainstVersitygw(t *testing.T) {
	srv := startListRegion(t, "eu-west-1")
	c := srv.Client()
	ctx := context.Background()
	put := func(key, body string) string {
		out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(srv.Bucket), Key: aws.String(key), Body: strings.NewReader(body)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.VersionId)
	}
	del := func(key string) string {
		out, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(srv.Bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.VersionId)
	}
	want := map[string]string{} // key -> current version id ("dm:" prefix for delete markers)
	put("a/1", "x")
	want["a/1"] = put("a/1", "y")
	put("a/2", "x")
	want["a/2"] = "dm:" + del("a/2")
	want["a/3"] = put("a/3", "z")
	want[listTrickyKey] = put(listTrickyKey, "t")
	put("b/out-of-prefix", "o")

	store, err := s3store.New(map[string]s3store.S3API{"eu-west-1": c}, s3store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"a/", "dir/"} {
		got := map[string]string{}
		var keys []string
		q := reconcile.Query{Prefix: prefix, MaxKeys: 2}
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("listing never ended")
			}
			p, err := store.ListVersionsPage(ctx, "eu-west-1", srv.Bucket, q)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Entries) > 2 {
				t.Errorf("page of %d entries, asked 2", len(p.Entries))
			}
			for _, e := range p.Entries {
				if !strings.HasPrefix(e.Key, prefix) {
					t.Errorf("entry %q outside prefix %q", e.Key, prefix)
				}
				if len(keys) > 0 && e.Key < keys[len(keys)-1] {
					t.Errorf("key %q after %q: not in order", e.Key, keys[len(keys)-1])
				}
				keys = append(keys, e.Key)
				if e.Latest {
					id := e.VersionID
					if e.DeleteMarker {
						id = "dm:" + id
					}
					if _, dup := got[e.Key]; dup {
						t.Errorf("two current versions of %q", e.Key)
					}
					got[e.Key] = id
				}
			}
			if !p.Truncated {
				break
			}
			q.KeyMarker, q.VersionIDMarker = p.NextKeyMarker, p.NextVersionIDMarker
		}
		for k, id := range want {
			if strings.HasPrefix(k, prefix) && got[k] != id {
				t.Errorf("current version of %q = %q, want %q", k, got[k], id)
			}
		}
		if prefix == "a/" && !slices.Equal(slices.Compact(keys), []string{"a/1", "a/2", "a/3"}) {
			t.Errorf("keys %v", slices.Compact(keys))
		}
	}
}
