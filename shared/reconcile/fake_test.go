package reconcile

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/internal/fakestore"
	"github.com/mrap-engine/mrap/shared/replication"
)

// buckets is the shared fake (shared/internal/fakestore) as the planner and runner see it:
// replication.Store (so the real engine repairs it) plus paged listings like
// ListObjectVersions. It hides the fake's marker records (markedBuckets adds them back).
type buckets struct {
	replication.Store
	fs *fakestore.Store
}

// scheme is the version id scheme of this run of the package's tests: TestMain runs the
// tests once per scheme (MRAP_FAKE_SEED replays the random one).
var scheme fakestore.Scheme

func TestMain(m *testing.M) {
	os.Exit(fakestore.RunEachScheme(m, func(s fakestore.Scheme) { scheme = s }))
}

var testMembers = []config.Member{{Region: eu, Bucket: "b-eu"}, {Region: us, Bucket: "b-us"}, {Region: ap, Bucket: "b-ap"}}

func newBuckets() *buckets {
	fs := fakestore.New(fakestore.Options{IDs: scheme.IDs, Seed: scheme.Seed, Start: t0, Step: 10 * time.Millisecond}, eu, us, ap)
	return &buckets{Store: fs, fs: fs}
}

func (b *buckets) tick(d time.Duration) { b.fs.Tick(d) }

func (b *buckets) now() time.Time { return b.fs.Now() }

// reads returns the HeadVersion calls so far.
func (b *buckets) reads() int { return b.fs.Count("HeadVersion") }

func (b *buckets) put(region, key, body string) replication.Version {
	return b.fs.Put(region, key, body, map[string]string{"owner": region})
}

func (b *buckets) del(region, key string) replication.Version { return b.fs.Delete(region, key) }

func (b *buckets) current(region, key string) replication.Version { return b.fs.Current(region, key) }

// state renders the current state of every key in region: "key=body" or "key=<deleted>"
// (absent keys and delete markers read the same).
func (b *buckets) state(region string) map[string]string {
	out := map[string]string{}
	for _, k := range b.fs.Keys(region) {
		cur := b.fs.Current(region, k)
		if cur.Exists && !cur.DeleteMarker {
			o := replication.DestinationOrigin(region, cur)
			out[k] = b.fs.Body(region, cur.VersionID) + " from " + o.Region + "/" + o.VersionID + " owner " + cur.Metadata["owner"]
		}
	}
	return out
}

// ListVersionsPage implements Lister over the fake's ListObjectVersions pages.
func (b *buckets) ListVersionsPage(_ context.Context, region, _ string, q Query) (Page, error) {
	p, err := b.fs.ListPage(region, q.Prefix, q.KeyMarker, q.VersionIDMarker, q.MaxKeys)
	if err != nil {
		return Page{}, err
	}
	out := Page{Truncated: p.Truncated, NextKeyMarker: p.NextKeyMarker, NextVersionIDMarker: p.NextVersionIDMarker}
	for _, e := range p.Entries {
		out.Entries = append(out.Entries, Entry{Key: e.Key, VersionID: e.VersionID, Latest: e.Latest, DeleteMarker: e.DeleteMarker,
			LastModified: e.LastModified, ETag: e.ETag, Size: e.Size})
	}
	return out, nil
}

var _ replication.Store = (*buckets)(nil)
var _ Store = (*buckets)(nil)
