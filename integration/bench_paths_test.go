package integration

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/mrap-engine/mrap/events"
	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/replication"
	"github.com/mrap-engine/mrap/shared/s3store"
)

// replicationPath is one way the engine writes a replica.
type replicationPath struct {
	name string
	// sameServer puts both member buckets on one versitygw server, so copies can be
	// server-side (CopyObject, UploadPartCopy) as on AWS, where every member is one service.
	sameServer bool
	opts       s3store.Options
	size       int
	objects    int
	// mustUse is the S3 operation the path is about: the benchmark fails if the engine did
	// not send it once per object at least.
	mustUse string
	// deletes replicates the objects first (not counted), then deletes them in the source and
	// counts the replication of the delete markers.
	deletes bool
}

// startPathRegions starts the members of p: two versitygw Regions, or one server holding
// both member buckets. Every engine request goes through one counter.
func startPathRegions(b *testing.B, p replicationPath) (r *benchRegions, dst *s3.Client, dstBucket string) {
	b.Helper()
	r = &benchRegions{counter: newRequestCounter()}
	withCounter := func(o *s3.Options) { o.HTTPClient = &http.Client{Transport: r.counter} }
	var clients map[string]s3store.S3API
	var members []config.Member
	if p.sameServer {
		r.a = startRegions(b, "us-east-1")[0]
		dstBucket = "mrap-eu-west-1-same-server"
		dst = r.a.Client()
		ctx := context.Background()
		_, err := dst.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &dstBucket})
		must(b, err, "create %s", dstBucket)
		_, err = dst.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &dstBucket,
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
		must(b, err, "enable versioning on %s", dstBucket)
		c := r.a.Client(withCounter)
		clients = map[string]s3store.S3API{"us-east-1": c, "eu-west-1": c}
		members = []config.Member{{Region: "us-east-1", Bucket: r.a.Bucket}, {Region: "eu-west-1", Bucket: dstBucket}}
	} else {
		regions := startRegions(b, "us-east-1", "eu-west-1")
		r.a, r.b = regions[0], regions[1]
		dst, dstBucket = r.b.Client(), r.b.Bucket
		clients = map[string]s3store.S3API{r.a.Region: r.a.Client(withCounter), r.b.Region: r.b.Client(withCounter)}
		members = []config.Member{{Region: r.a.Region, Bucket: r.a.Bucket}, {Region: r.b.Region, Bucket: r.b.Bucket}}
	}
	store, err := s3store.New(clients, p.opts)
	must(b, err, "s3store.New")
	r.engine, err = replication.New(store, members, replication.Options{})
	must(b, err, "replication.New")
	return r, dst, dstBucket
}

// deleteAll deletes every key of changes in the source (a delete marker each) and returns the
// changes the "Object Deleted" events would carry.
func (r *benchRegions) deleteAll(b *testing.B, changes []events.ObjectChange) []events.ObjectChange {
	b.Helper()
	c := r.a.Client()
	out := make([]events.ObjectChange, len(changes))
	g, ctx := errgroup.WithContext(context.Background())
	g.SetLimit(2 * benchWorkers)
	for i, ch := range changes {
		g.Go(func() error {
			del, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &r.a.Bucket, Key: &ch.Key})
			if err != nil {
				return fmt.Errorf("delete %s: %w", ch.Key, err)
			}
			if !aws.ToBool(del.DeleteMarker) || aws.ToString(del.VersionId) == "" {
				return fmt.Errorf("delete %s made no delete marker: %+v", ch.Key, del)
			}
			out[i] = events.ObjectChange{
				Region: ch.Region, Bucket: ch.Bucket, Key: ch.Key, RawKey: ch.RawKey,
				VersionID: aws.ToString(del.VersionId), Sequencer: fmt.Sprintf("%016X", 1<<40+i),
				Kind: events.DeleteMarkerCreated, Reason: events.ReasonDeleteObject, EventTime: time.Now().UTC(),
			}
			return nil
		})
	}
	must(b, g.Wait(), "delete")
	return out
}

// countCurrent returns how many keys under prefix/ have an object (not a delete marker) as
// their current version in bucket.
func countCurrent(b *testing.B, c *s3.Client, bucket, prefix string) int {
	b.Helper()
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: aws.String(prefix + "/")})
	n := 0
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		must(b, err, "list %s/%s", bucket, prefix)
		n += len(page.Contents)
	}
	return n
}

// BenchmarkRequestsPerObject counts the S3 requests the engine sends per replicated object on
// each of its write paths, every attempt included:
//
//	stream-put          two Regions, the replica streamed through the engine in one PutObject
//	stream-multipart    two Regions, streamed in parts (5 MiB parts, 12 MiB objects)
//	server-copy         one S3 service (two buckets of one versitygw, as all of AWS is one
//	                    service): CopyObject
//	server-part-copy    one S3 service, UploadPartCopy (5 MiB parts, 12 MiB objects)
//	delete-marker       two Regions, a delete in the source replicated as a delete marker
//
// The metrics are reqs/object, <Operation>/object, objects/s and the p50 and p99 Apply time.
// versitygw does not send x-amz-delete-marker with the 404 of a key whose current version is a
// delete marker, so the engine reads the destination's current version with
// ListObjectVersions (plus a HEAD when it is an object) instead of one HEAD as on AWS
// (s3store.Options.TrustNotFound): on AWS a path needs one request fewer per object when the
// destination holds an object, the same when it holds nothing.
//
// Run: go test -run '^$' -bench BenchmarkRequestsPerObject -benchtime 1x ./integration/
func BenchmarkRequestsPerObject(b *testing.B) {
	skipShort(b)
	const mib = 1 << 20
	for _, p := range []replicationPath{
		{name: "stream-put", size: mib, objects: 100, mustUse: "PutObject"},
		{name: "stream-multipart", size: 12 * mib, objects: 24, mustUse: "UploadPart",
			opts: s3store.Options{MultipartThreshold: 5 * mib, PartSize: 5 * mib}},
		{name: "server-copy", sameServer: true, size: mib, objects: 100, mustUse: "CopyObject",
			opts: s3store.Options{SameService: true}},
		{name: "server-part-copy", sameServer: true, size: 12 * mib, objects: 24, mustUse: "UploadPartCopy",
			opts: s3store.Options{SameService: true, MultipartThreshold: 5 * mib, PartSize: 5 * mib}},
		{name: "delete-marker", size: 1 << 10, objects: 200, mustUse: "DeleteObject", deletes: true},
	} {
		b.Run(p.name, func(b *testing.B) {
			r, dst, dstBucket := startPathRegions(b, p)
			var (
				lat     []time.Duration
				elapsed time.Duration
				reqs    int64
				ops     = map[string]int{}
				total   int
			)
			for round := 0; b.Loop(); round++ {
				b.StopTimer()
				prefix := fmt.Sprintf("path-%s-%d", p.name, round)
				changes := r.seed(b, prefix, p.objects, p.size)
				if p.deletes {
					r.replicate(b, changes)
					changes = r.deleteAll(b, changes)
				}
				r.counter.reset()
				b.StartTimer()

				start := time.Now()
				lat = append(lat, r.replicate(b, changes)...)
				elapsed += time.Since(start)

				b.StopTimer()
				n, byOp, mean := r.counter.reset()
				b.Logf("%s: %d requests for %d objects: %v; mean time to response headers %v", p.name, n, p.objects, byOp, mean)
				reqs += n
				for k, v := range byOp {
					ops[k] += v
				}
				total += p.objects
				want := p.objects
				if p.deletes {
					want = 0
				}
				if got := countCurrent(b, dst, dstBucket, prefix); got != want {
					b.Fatalf("%d current objects under %s in the destination, want %d", got, prefix, want)
				}
				if byOp[p.mustUse] < p.objects {
					b.Fatalf("%s: %d %s requests for %d objects: the path was not taken (%v)", p.name, byOp[p.mustUse], p.mustUse, p.objects, byOp)
				}
				b.StartTimer()
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(total)/elapsed.Seconds(), "objects/s")
			b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(reqs)/float64(total), "reqs/object")
			names := make([]string, 0, len(ops))
			for k := range ops {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, k := range names {
				b.ReportMetric(float64(ops[k])/float64(total), k+"/object")
			}
			b.Logf("%s: %s", p.name, strings.Join(names, ","))
		})
	}
}
