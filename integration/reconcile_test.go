package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mrap-engine/mrap/events"
	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/docstore"
	"github.com/mrap-engine/mrap/shared/local/s3server"
	"github.com/mrap-engine/mrap/shared/reconcile"
	"github.com/mrap-engine/mrap/shared/replication"
	"github.com/mrap-engine/mrap/shared/s3store"
)

var reconcileRegions = []string{"us-east-1", "eu-west-1", "ap-southeast-2"}

// reconcileSet is a set of local versitygw Regions with the engine wired to them.
type reconcileSet struct {
	// trustNotFound reads an absent key with one HEAD, as on AWS, instead of confirming every
	// 404 with a version listing (which versitygw answers by scanning the bucket folder).
	trustNotFound bool
	t             testing.TB
	servers       map[string]*s3server.Server
	dirs          map[string]string
	members       []config.Member
	store         *s3store.Store
	engine        *replication.Engine
}

func startReconcileRegions(t testing.TB) *reconcileSet {
	t.Helper()
	rs := &reconcileSet{t: t, servers: map[string]*s3server.Server{}, dirs: map[string]string{}}
	for _, srv := range startRegions(t, reconcileRegions...) {
		rs.servers[srv.Region], rs.dirs[srv.Region] = srv, srv.DataDir
	}
	t.Cleanup(func() { // a Region restarted by the test is a new process
		for _, s := range rs.servers {
			_ = s.Stop()
		}
	})
	for _, r := range reconcileRegions {
		rs.members = append(rs.members, config.Member{Region: r, Bucket: rs.servers[r].Bucket})
	}
	rs.wire()
	return rs
}

// wire (re)builds the clients, store and engine (after a Region restarts on a new port).
func (rs *reconcileSet) wire() {
	clients := map[string]s3store.S3API{}
	for r, s := range rs.servers {
		clients[r] = s.Client(func(o *s3.Options) { o.RetryMaxAttempts = 2 })
	}
	store, err := s3store.New(clients, s3store.Options{PartSize: 5 * s3store.MiB, TrustNotFound: rs.trustNotFound})
	if err != nil {
		rs.t.Fatal(err)
	}
	engine, err := replication.New(store, rs.members, replication.Options{})
	if err != nil {
		rs.t.Fatal(err)
	}
	rs.store, rs.engine = store, engine
}

func (rs *reconcileSet) client(region string) *s3.Client { return rs.servers[region].Client() }

// put writes a user object with metadata, content type and tags, and returns its event.
func (rs *reconcileSet) put(region, key, body string) events.ObjectChange {
	rs.t.Helper()
	out, err := rs.client(region).PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(rs.servers[region].Bucket), Key: aws.String(key), Body: strings.NewReader(body),
		Metadata: map[string]string{"writer": region}, ContentType: aws.String("text/plain"), Tagging: aws.String("team=" + region[:2]),
	})
	if err != nil {
		rs.t.Fatalf("put %s %q: %v", region, key, err)
	}
	return events.ObjectChange{Region: region, Bucket: rs.servers[region].Bucket, Key: key, RawKey: key, VersionID: aws.ToString(out.VersionId),
		Kind: events.Created, Reason: events.ReasonPutObject, EventTime: time.Now()}
}

func (rs *reconcileSet) del(region, key string) events.ObjectChange {
	rs.t.Helper()
	out, err := rs.client(region).DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(rs.servers[region].Bucket), Key: aws.String(key)})
	if err != nil {
		rs.t.Fatalf("delete %s %q: %v", region, key, err)
	}
	return events.ObjectChange{Region: region, Bucket: rs.servers[region].Bucket, Key: key, RawKey: key, VersionID: aws.ToString(out.VersionId),
		Kind: events.DeleteMarkerCreated, Reason: events.ReasonDeleteObject, EventTime: time.Now()}
}

// snapshot renders every current object of region: bytes, user metadata without the replica
// marks, content type and tags. Keys whose current version is a delete marker, and keys
// absent, both read as absent.
func (rs *reconcileSet) snapshot(region string) map[string]string {
	rs.t.Helper()
	ctx := context.Background()
	c := rs.client(region)
	bucket := rs.servers[region].Bucket
	out := map[string]string{}
	q := reconcile.Query{MaxKeys: 1000}
	for {
		p, err := rs.store.ListVersionsPage(ctx, region, bucket, q)
		if err != nil {
			rs.t.Fatal(err)
		}
		for _, e := range p.Entries {
			if !e.Latest || e.DeleteMarker || replication.IsInternalKey(e.Key) { // each Region's own (delete marker records)
				continue
			}
			obj, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(e.Key)})
			if err != nil {
				rs.t.Fatalf("get %s %q: %v", region, e.Key, err)
			}
			body, _ := io.ReadAll(obj.Body)
			obj.Body.Close()
			var meta []string
			for k, v := range obj.Metadata {
				if !strings.HasPrefix(strings.ToLower(k), "mrap-origin-") {
					meta = append(meta, strings.ToLower(k)+"="+v)
				}
			}
			sort.Strings(meta)
			tags, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(e.Key)})
			if err != nil {
				rs.t.Fatalf("tags %s %q: %v", region, e.Key, err)
			}
			var ts []string
			for _, tg := range tags.TagSet {
				ts = append(ts, aws.ToString(tg.Key)+"="+aws.ToString(tg.Value))
			}
			sort.Strings(ts)
			out[e.Key] = fmt.Sprintf("%q meta=%v type=%s tags=%v", body, meta, aws.ToString(obj.ContentType), ts)
		}
		if !p.Truncated {
			return out
		}
		q.KeyMarker, q.VersionIDMarker = p.NextKeyMarker, p.NextVersionIDMarker
	}
}

func (rs *reconcileSet) assertIdentical(t *testing.T) map[string]string {
	t.Helper()
	want := rs.snapshot(reconcileRegions[0])
	for _, r := range reconcileRegions[1:] {
		got := rs.snapshot(r)
		if maps.Equal(got, want) {
			continue
		}
		n := 0
		for _, k := range slices.Sorted(maps.Keys(want)) {
			if got[k] != want[k] && n < 10 {
				t.Errorf("%s %q = %s; %s has %s", r, k, got[k], reconcileRegions[0], want[k])
				n++
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok && n < 10 {
				t.Errorf("%s %q = %s; %s has nothing", r, k, got[k], reconcileRegions[0])
				n++
			}
		}
	}
	return want
}

// TestReconcileConvergesEveryRegion builds every kind of divergence the issue names against
// three local versitygw Regions, interrupts a reconcile run in the middle, resumes it from
// its checkpoint, and checks that every Region ends identical and a second plan is empty.
func TestReconcileConvergesEveryRegion(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three versitygw processes")
	}
	rs := startReconcileRegions(t)
	ctx := context.Background()
	apply := func(c events.ObjectChange) {
		if _, err := rs.engine.Apply(ctx, c); err != nil {
			t.Fatalf("apply %s %q: %v", c.Kind, c.Key, err)
		}
	}

	// 1. Written before the engine was deployed: no events at all.
	for i := range 40 {
		rs.put(reconcileRegions[i%3], fmt.Sprintf("pre/%03d", i), "pre "+fmt.Sprint(i))
	}
	rs.put("eu-west-1", "pre/a b+c%d:é 日本.txt", "tricky")
	// 2. Deployed, but a third of the events are dropped.
	dropped := 0
	for i := range 60 {
		c := rs.put(reconcileRegions[i%3], fmt.Sprintf("live/%03d", i), "live "+fmt.Sprint(i))
		if i%3 == 0 {
			dropped++
			continue
		}
		apply(c)
	}
	// Overwrites whose events are dropped (stale replicas), and concurrent writes of one key in
	// two Regions with no replication (a conflict the rule decides).
	time.Sleep(1100 * time.Millisecond) // origin times have one-second resolution
	for i := range 20 {
		rs.put("us-east-1", fmt.Sprintf("live/%03d", 3*i+1), "overwrite")
		if i%2 == 0 {
			rs.put("ap-southeast-2", fmt.Sprintf("live/%03d", 3*i+2), "concurrent ap")
		}
	}
	// 3. Deletes while a Region is down: the engine cannot reach it.
	down := "ap-southeast-2"
	port := rs.servers[down].Port
	if err := rs.servers[down].Stop(); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		c := rs.del("us-east-1", fmt.Sprintf("live/%03d", 3*i+1))
		if _, err := rs.engine.Apply(ctx, c); err == nil {
			t.Fatalf("delete of %q replicated although %s is down", c.Key, down)
		}
	}
	srv, err := s3server.Start(ctx, s3server.Options{Region: down, DataDir: rs.dirs[down], Port: port})
	if err != nil {
		srv, err = s3server.Start(ctx, s3server.Options{Region: down, DataDir: rs.dirs[down]})
	}
	if err != nil {
		t.Fatal(err)
	}
	rs.servers[down] = srv
	rs.wire()

	if a, b := rs.snapshot("us-east-1"), rs.snapshot(down); maps.Equal(a, b) {
		t.Fatal("the Regions already agree: the scenario built no divergence")
	}

	// Dry run: a plan and nothing written.
	before := rs.snapshot(down)
	dry, err := newReconcileRunner(t, rs, reconcile.Options{DryRun: true, PageSize: 25}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if dry.Run.RepairsPlanned == 0 || dry.Run.RepairsDone != 0 || !maps.Equal(before, rs.snapshot(down)) {
		t.Fatalf("dry run planned %d, did %d, or changed %s", dry.Run.RepairsPlanned, dry.Run.RepairsDone, down)
	}
	t.Logf("dry run: %d keys, %d repairs planned %v", dry.Run.KeysScanned, dry.Run.RepairsPlanned, dry.Run.ByKind)
	for _, k := range []reconcile.Kind{reconcile.MissingReplica, reconcile.StaleReplica, reconcile.LostConflict, reconcile.MissingDeleteMarker} {
		if dry.Run.ByKind[string(k)] == 0 {
			t.Errorf("the plan has no %s repair: %v", k, dry.Run.ByKind)
		}
	}

	// An interrupted run: killed after 60 repairs.
	cp, err := docstore.File(filepath.Join(t.TempDir(), "reconcile.json"))
	must(t, err, "checkpoint")
	runCtx, kill := context.WithCancel(ctx)
	var done atomic.Int64
	_, err = newReconcileRunner(t, rs, reconcile.Options{PageSize: 10, Workers: 4, Checkpoint: cp,
		OnRepair: func(reconcile.Repair, replication.Outcome) {
			if done.Add(1) == 60 {
				kill()
			}
		}}).Run(runCtx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: err = %v, want canceled", err)
	}
	// Resumed from the checkpoint, as an operator would restart it: a moment later. The killed
	// run's last requests may still be running in versitygw, whose PUT to a versioned bucket is
	// not atomic (a reader in the middle of it can see the previous version with a new
	// Last-Modified, which the conflict rule would take for a newer write); S3 has no such
	// window.
	time.Sleep(2 * time.Second)
	s, err := newReconcileRunner(t, rs, reconcile.Options{PageSize: 10, Workers: 4, Checkpoint: cp}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("resumed run: %+v", s.Run)
	if !s.Resumed || !s.Complete || s.Run.RepairsFailed != 0 {
		t.Fatalf("resumed run: resumed %v complete %v failed %d %v", s.Resumed, s.Complete, s.Run.RepairsFailed, s.Failures)
	}
	if s.Run.KeysScanned >= dry.Run.KeysScanned {
		t.Errorf("the resumed run scanned %d keys of %d: it did not resume", s.Run.KeysScanned, dry.Run.KeysScanned)
	}

	state := rs.assertIdentical(t)
	if _, ok := state["live/004"]; ok {
		t.Error("live/004 was deleted in us-east-1 while ap-southeast-2 was down but is still served")
	}
	if got := state["live/031"]; !strings.Contains(got, `"overwrite"`) {
		t.Errorf("live/031 = %s, want the overwrite", got)
	}
	if got := state["pre/a b+c%d:é 日本.txt"]; !strings.Contains(got, "tricky") || !strings.Contains(got, "writer=eu-west-1") || !strings.Contains(got, "team=eu") {
		t.Errorf("tricky key = %s, want the bytes, metadata and tags of the eu-west-1 original", got)
	}

	again, err := newReconcileRunner(t, rs, reconcile.Options{DryRun: true}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again.Run.RepairsPlanned != 0 || again.Run.Skipped != 0 {
		t.Errorf("second plan: %d repairs, %d keys skipped, want none (%v)", again.Run.RepairsPlanned, again.Run.Skipped, again.Failures)
	}
}

func newReconcileRunner(t testing.TB, rs *reconcileSet, opts reconcile.Options) *reconcile.Runner {
	t.Helper()
	r, err := reconcile.New(rs.store, rs.engine, rs.members, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
