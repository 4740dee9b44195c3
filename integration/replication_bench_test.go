package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sync/errgroup"

	"github.com/mrap-engine/mrap/events"
	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/local/runtime"
	"github.com/mrap-engine/mrap/shared/local/s3server"
	"github.com/mrap-engine/mrap/shared/replication"
	"github.com/mrap-engine/mrap/shared/s3store"
)

// benchWorkers is the objects in flight at once, for the engine (Apply calls) and for rclone
// (--transfers), so both get the same parallelism.
const benchWorkers = 8

// requestCounter is an http.RoundTripper that counts requests (every attempt, retries
// included) by SDK operation name.
type requestCounter struct {
	next http.RoundTripper
	mu   sync.Mutex
	ops  map[string]int
	time map[string]time.Duration // time to response headers, by operation
	n    atomic.Int64
}

func newRequestCounter() *requestCounter {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64
	return &requestCounter{next: t, ops: map[string]int{}, time: map[string]time.Duration{}}
}

func (c *requestCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	op := awsmiddleware.GetOperationName(r.Context())
	if op == "" {
		op = r.Method
	}
	c.n.Add(1)
	start := time.Now()
	resp, err := c.next.RoundTrip(r)
	d := time.Since(start)
	c.mu.Lock()
	c.ops[op]++
	c.time[op] += d
	c.mu.Unlock()
	return resp, err
}

// reset returns the counts so far, the mean time to response headers by operation, and
// starts again from zero.
func (c *requestCounter) reset() (int64, map[string]int, map[string]time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ops, mean := c.ops, map[string]time.Duration{}
	for op, d := range c.time {
		mean[op] = (d / time.Duration(ops[op])).Round(10 * time.Microsecond)
	}
	c.ops, c.time = map[string]int{}, map[string]time.Duration{}
	return c.n.Swap(0), ops, mean
}

// benchRegions is two local Regions and the engine between them as the replicator wires it
// for S3-compatible endpoints (streaming copies, 404s confirmed by listing).
type benchRegions struct {
	a, b    *s3server.Server
	engine  *replication.Engine
	counter *requestCounter
	rclone  string
}

func startBenchRegions(b *testing.B) *benchRegions {
	b.Helper()
	rc, err := exec.LookPath("rclone")
	if err != nil {
		b.Fatalf("rclone is the baseline and is not installed (apt-get install rclone): %v", err)
	}
	regions := startRegions(b, "us-east-1", "eu-west-1")
	r := &benchRegions{a: regions[0], b: regions[1], counter: newRequestCounter(), rclone: rc}
	withCounter := func(o *s3.Options) { o.HTTPClient = &http.Client{Transport: r.counter} }
	clients := map[string]s3store.S3API{
		r.a.Region: r.a.Client(withCounter),
		r.b.Region: r.b.Client(withCounter),
	}
	store, err := s3store.New(clients, s3store.Options{})
	must(b, err, "s3store.New")
	members := []config.Member{{Region: r.a.Region, Bucket: r.a.Bucket}, {Region: r.b.Region, Bucket: r.b.Bucket}}
	r.engine, err = replication.New(store, members, replication.Options{})
	must(b, err, "replication.New")
	return r
}

// seed writes n objects of size bytes under prefix in Region A and returns their changes as
// the events would carry them.
func (r *benchRegions) seed(b *testing.B, prefix string, n, size int) []events.ObjectChange {
	b.Helper()
	c := r.a.Client(func(o *s3.Options) { o.HTTPClient = &http.Client{Transport: newRequestCounter().next} })
	changes := make([]events.ObjectChange, n)
	g, ctx := errgroup.WithContext(context.Background())
	g.SetLimit(max(1, min(2*benchWorkers, (256<<20)/size))) // at most 256 MiB of bodies in memory
	for i := range n {
		g.Go(func() error {
			body := make([]byte, size)
			_, _ = rand.Read(body)
			key := fmt.Sprintf("%s/obj-%06d", prefix, i)
			out, err := c.PutObject(ctx, &s3.PutObjectInput{
				Bucket: &r.a.Bucket, Key: &key, Body: bytes.NewReader(body),
				ContentType: aws.String("application/octet-stream"),
				Metadata:    map[string]string{"bench": "1"},
			})
			if err != nil {
				return fmt.Errorf("seed %s: %w", key, err)
			}
			changes[i] = events.ObjectChange{
				Region: r.a.Region, Bucket: r.a.Bucket, Key: key, RawKey: key,
				VersionID: aws.ToString(out.VersionId), Sequencer: fmt.Sprintf("%016X", i+1),
				Size: int64(size), ETag: strings.Trim(aws.ToString(out.ETag), `"`),
				Kind: events.Created, Reason: events.ReasonPutObject, EventTime: time.Now().UTC(),
			}
			return nil
		})
	}
	must(b, g.Wait(), "seed %s", prefix)
	return changes
}

// replicate applies every change with benchWorkers in flight and returns the Apply time of
// each. Any change not replicated to exactly one destination fails the benchmark.
func (r *benchRegions) replicate(b *testing.B, changes []events.ObjectChange) []time.Duration {
	b.Helper()
	lat := make([]time.Duration, len(changes))
	g, ctx := errgroup.WithContext(context.Background())
	g.SetLimit(benchWorkers)
	for i, ch := range changes {
		g.Go(func() error {
			start := time.Now()
			res, err := r.engine.Apply(ctx, ch)
			lat[i] = time.Since(start)
			if err != nil {
				return fmt.Errorf("apply %s: %w", ch.Key, err)
			}
			if res.Count(replication.Replicated) != 1 {
				return fmt.Errorf("apply %s: %+v, want replicated to one destination", ch.Key, res.Destinations)
			}
			return nil
		})
	}
	must(b, g.Wait(), "replicate")
	return lat
}

// rcloneCopy copies prefix from A's bucket to dstPrefix in B's bucket with `rclone copy`,
// through endpoints (the servers themselves, or counting proxies), and returns how long it
// took.
func (r *benchRegions) rcloneCopy(b *testing.B, endpointA, endpointB, prefix, dstPrefix string) time.Duration {
	b.Helper()
	env := baseEnv("RCLONE_CONFIG=/nonexistent")
	for _, rm := range []struct {
		name     string
		s        *s3server.Server
		endpoint string
	}{{"SRC", r.a, endpointA}, {"DST", r.b, endpointB}} {
		p := "RCLONE_CONFIG_" + rm.name + "_"
		env = append(env,
			p+"TYPE=s3", p+"PROVIDER=Other", p+"FORCE_PATH_STYLE=true",
			p+"ENDPOINT="+rm.endpoint, p+"REGION="+rm.s.Region,
			p+"ACCESS_KEY_ID="+rm.s.AccessKey, p+"SECRET_ACCESS_KEY="+rm.s.SecretKey,
		)
	}
	cmd := exec.Command(r.rclone, "copy",
		"SRC:"+r.a.Bucket+"/"+prefix, "DST:"+r.b.Bucket+"/"+dstPrefix,
		"--s3-provider", "Other", "--s3-force-path-style",
		"--transfers", fmt.Sprint(benchWorkers), "--checkers", fmt.Sprint(2*benchWorkers))
	cmd.Env = env
	start := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(start)
	if err != nil {
		b.Fatalf("rclone copy: %v\n%s", err, out)
	}
	return d
}

// proxyCounts counts the requests counting proxies forward, by S3 operation.
type proxyCounts struct {
	mu  sync.Mutex
	ops map[string]int
}

func (p *proxyCounts) add(r *http.Request) {
	op := r.Method + " object"
	q := r.URL.Query()
	switch {
	case strings.Count(strings.Trim(r.URL.Path, "/"), "/") == 0:
		op = r.Method + " bucket" // ListObjects(V2), HeadBucket, ...
	case q.Has("uploads") || q.Has("uploadId"):
		op = r.Method + " multipart"
	case q.Has("tagging"):
		op = r.Method + " tagging"
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ops == nil {
		p.ops = map[string]int{}
	}
	p.ops[op]++
}

func (p *proxyCounts) total() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, v := range p.ops {
		n += v
	}
	return n
}

// countingProxy fronts s and counts the requests it forwards. The Host header is kept, so the
// client's SigV4 signature (over the proxy's host) still verifies.
func countingProxy(b *testing.B, s *s3server.Server, counts *proxyCounts) string {
	b.Helper()
	target, err := url.Parse(s.Endpoint)
	must(b, err, "parse endpoint")
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		counts.add(req)
		rp.ServeHTTP(w, req)
	}))
	b.Cleanup(srv.Close)
	return srv.URL
}

// countObjects lists prefix in B and returns how many objects it holds.
func countObjects(b *testing.B, s *s3server.Server, prefix string) int {
	b.Helper()
	p := s3.NewListObjectsV2Paginator(s.Client(), &s3.ListObjectsV2Input{Bucket: &s.Bucket, Prefix: aws.String(prefix + "/")})
	n := 0
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		must(b, err, "list %s", prefix)
		n += len(page.Contents)
	}
	return n
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// BenchmarkReplication replicates objects between two local versitygw Regions with the engine
// (replication.Engine over s3store, streaming copies as the replicator does for S3-compatible
// endpoints) and copies the same objects with `rclone copy` between the same servers as the
// baseline. One op is one batch of objects; the metrics are:
//
//	objects/s          engine throughput (benchWorkers Apply calls in flight)
//	p50-ms, p99-ms     engine Apply time per object (replica written and visible when it returns)
//	reqs/object        S3 requests the engine sent per replicated object (all attempts)
//	<Operation>/object the same, by S3 operation
//	rclone-objects/s   rclone copy throughput (--transfers benchWorkers)
//	rclone-reqs/object rclone's requests per object (a second, counted run through a proxy)
//	vs-rclone          objects/s divided by rclone-objects/s
//
// MRAP_BENCH_LARGE=1 adds 64 MiB objects (a single streamed PUT each: the streaming multipart
// threshold is "above 64 MiB").
//
// Run: go test -run '^$' -bench BenchmarkReplication -benchtime 1x ./integration/
func BenchmarkReplication(b *testing.B) {
	skipShort(b)
	type size struct {
		name    string
		size    int
		objects int
	}
	sizes := []size{
		{"1KiB", 1 << 10, 1000},
		{"1MiB", 1 << 20, 200},
	}
	if os.Getenv("MRAP_BENCH_LARGE") == "1" {
		sizes = append(sizes, size{"64MiB", 64 << 20, 16})
	}
	for _, tc := range sizes {
		b.Run(tc.name, func(b *testing.B) {
			r := startBenchRegions(b)
			var (
				engineTime, rcloneTime time.Duration
				lat                    []time.Duration
				engineReqs, rcloneReqs int64
				ops                    = map[string]int{}
				total                  int
			)
			b.SetBytes(int64(tc.size * tc.objects))
			b.ResetTimer()
			for round := 0; b.Loop(); round++ {
				b.StopTimer()
				prefix := fmt.Sprintf("bench-%s-%d", tc.name, round)
				changes := r.seed(b, prefix, tc.objects, tc.size)
				r.counter.reset()
				b.StartTimer()

				start := time.Now()
				lat = append(lat, r.replicate(b, changes)...)
				engineTime += time.Since(start)

				b.StopTimer()
				n, byOp, mean := r.counter.reset()
				b.Logf("engine: mean time to response headers by operation: %v", mean)
				engineReqs += n
				for k, v := range byOp {
					ops[k] += v
				}
				total += tc.objects
				if got := countObjects(b, r.b, prefix); got != tc.objects {
					b.Fatalf("%d replicas under %s in %s, want %d", got, prefix, r.b.Region, tc.objects)
				}

				rcloneTime += r.rcloneCopy(b, r.a.Endpoint, r.b.Endpoint, prefix, "rclone-"+prefix)
				if got := countObjects(b, r.b, "rclone-"+prefix); got != tc.objects {
					b.Fatalf("rclone copied %d objects, want %d", got, tc.objects)
				}
				var srcCounts, dstCounts proxyCounts
				r.rcloneCopy(b, countingProxy(b, r.a, &srcCounts), countingProxy(b, r.b, &dstCounts), prefix, "rclone-counted-"+prefix)
				rcloneReqs += int64(srcCounts.total() + dstCounts.total())
				b.Logf("rclone requests for %d objects: source %v, destination %v", tc.objects, srcCounts.ops, dstCounts.ops)
				b.StartTimer()
			}
			b.StopTimer()

			slices.Sort(lat)
			engineRate := float64(total) / engineTime.Seconds()
			rcloneRate := float64(total) / rcloneTime.Seconds()
			b.ReportMetric(engineRate, "objects/s")
			b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(engineReqs)/float64(total), "reqs/object")
			names := make([]string, 0, len(ops))
			for k := range ops {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, k := range names {
				b.ReportMetric(float64(ops[k])/float64(total), k+"/object")
			}
			b.ReportMetric(rcloneRate, "rclone-objects/s")
			b.ReportMetric(float64(rcloneReqs)/float64(total), "rclone-reqs/object")
			b.ReportMetric(engineRate/rcloneRate, "vs-rclone")
		})
	}
}

// BenchmarkLocalRuntimeLag measures replication lag end to end in the local runtime (`make
// run`): PUT in us-east-1 through its regional endpoint, versitygw's webhook, the notification
// bridge, the engine, until a HEAD in eu-west-1 finds the replica. One op is one batch of
// 1 KiB objects written benchWorkers at a time; the metrics are:
//
//	lag-p50-ms, lag-p99-ms  time from the PUT's response to the replica visible (polled every 2ms)
//	objects/s               objects written and replicated per second of the batch
//
// Run: go test -run '^$' -bench BenchmarkLocalRuntimeLag -benchtime 1x ./integration/
func BenchmarkLocalRuntimeLag(b *testing.B) {
	skipShort(b)
	const objects = 300
	ctx := context.Background()
	rt, err := runtime.Start(ctx, runtime.Options{DataDir: b.TempDir(), Regions: []string{"us-east-1", "eu-west-1"}})
	must(b, err, "start the local runtime")
	b.Cleanup(rt.Close)
	ep := rt.Endpoints()
	clients := map[string]*s3.Client{}
	buckets := map[string]string{}
	for _, r := range ep.Regions {
		clients[r.Region] = s3.New(s3.Options{
			Region: r.Region, BaseEndpoint: aws.String(r.Endpoint), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(ep.AccessKeyID, ep.SecretAccessKey, ""),
			HTTPClient:  &http.Client{Transport: newRequestCounter().next},
		})
		buckets[r.Region] = r.Bucket
	}
	src, dst := clients["us-east-1"], clients["eu-west-1"]
	if src == nil || dst == nil {
		b.Fatalf("runtime Regions %+v lack us-east-1 or eu-west-1", ep.Regions)
	}
	srcBucket, dstBucket := buckets["us-east-1"], buckets["eu-west-1"]

	var lags []time.Duration
	var wall time.Duration
	total := 0
	for round := 0; b.Loop(); round++ {
		lag := make([]time.Duration, objects)
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(benchWorkers)
		start := time.Now()
		for i := range objects {
			g.Go(func() error {
				key := fmt.Sprintf("lag-%d/obj-%06d", round, i)
				body := make([]byte, 1<<10)
				_, _ = rand.Read(body)
				if _, err := src.PutObject(gctx, &s3.PutObjectInput{Bucket: &srcBucket, Key: &key, Body: bytes.NewReader(body)}); err != nil {
					return fmt.Errorf("put %s: %w", key, err)
				}
				written := time.Now()
				deadline := written.Add(30 * time.Second)
				for {
					if _, err := dst.HeadObject(gctx, &s3.HeadObjectInput{Bucket: &dstBucket, Key: &key}); err == nil {
						lag[i] = time.Since(written)
						return nil
					}
					if time.Now().After(deadline) {
						return fmt.Errorf("%s not replicated to eu-west-1 within 30s", key)
					}
					time.Sleep(2 * time.Millisecond)
				}
			})
		}
		must(b, g.Wait(), "round %d", round)
		wall += time.Since(start)
		lags = append(lags, lag...)
		total += objects
	}
	slices.Sort(lags)
	b.ReportMetric(float64(percentile(lags, 0.50).Microseconds())/1000, "lag-p50-ms")
	b.ReportMetric(float64(percentile(lags, 0.99).Microseconds())/1000, "lag-p99-ms")
	b.ReportMetric(float64(total)/wall.Seconds(), "objects/s")
}
