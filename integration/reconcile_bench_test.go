package integration

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mrap-engine/mrap/shared/docstore"
	"github.com/mrap-engine/mrap/shared/reconcile"
)

// BenchmarkReconcile measures a backfill of small objects written in one of three local
// versitygw Regions before deployment (every key needs two repairs), then the pass that
// verifies the converged keys (origin reads; it writes the verified-versions index), then a
// steady-state pass settled by the index (listings and index chunks only). The checkpoint and
// the index live in a state bucket of the first Region's versitygw, as on AWS. 1,000 and 10,000 objects by default; set
// MRAP_BENCH_LARGE=1 to add 100,000. MRAP_BENCH_TRUST_404=1 reads absent keys with one HEAD
// as on AWS (s3store.Options.TrustNotFound) instead of confirming each 404 with a version
// listing, which versitygw answers by scanning the whole bucket folder: at 100,000 objects that
// local cost, not the engine, sets the pace. The data here has no delete markers, so the
// answers are the same.
//
//	go test -run '^$' -bench BenchmarkReconcile -benchtime 1x -timeout 60m ./integration/
func BenchmarkReconcile(b *testing.B) {
	if testing.Short() {
		b.Skip("starts three versitygw processes and writes 10,000 objects")
	}
	sizes := []int{1_000, 10_000}
	if os.Getenv("MRAP_BENCH_LARGE") == "1" {
		sizes = append(sizes, 100_000)
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("objects=%d", n), func(b *testing.B) {
			rs := startReconcileRegions(b)
			if os.Getenv("MRAP_BENCH_TRUST_404") == "1" {
				rs.trustNotFound = true
				rs.wire()
			}
			for i := range b.N {
				prefix := fmt.Sprintf("bench%d/", i)
				b.StopTimer()
				seed(b, rs, "us-east-1", prefix, n)
				runtime.GC()
				b.StartTimer()

				opts := withStateBucket(b, rs, fmt.Sprintf("mrap-bench-state-%d", i), reconcile.Options{Scope: reconcile.Scope{Prefix: prefix}, Workers: 16})
				backfill, peak := measure(b, rs, opts)
				if backfill.Run.KeysScanned != int64(n) || backfill.Run.RepairsDone != int64(2*n) || backfill.Run.RepairsFailed != 0 {
					b.Fatalf("backfill: %+v %v", backfill.Run, backfill.Failures)
				}
				opts.DryRun = true
				verify, verifyPeak := measure(b, rs, opts)
				if verify.Run.RepairsPlanned != 0 || verify.Run.ChunksWritten == 0 {
					b.Fatalf("verifying pass: %+v", verify.Run)
				}
				steady, steadyPeak := measure(b, rs, opts)
				if steady.Run.RepairsPlanned != 0 || steady.Run.KeysSettled != int64(n) || len(steady.IndexProblems) > 0 {
					b.Fatalf("steady state: %+v %v", steady.Run, steady.IndexProblems)
				}
				b.ReportMetric(float64(n)/backfill.Elapsed.Seconds(), "backfill-keys/s")
				b.ReportMetric(float64(backfill.Run.RepairsDone)/backfill.Elapsed.Seconds(), "repairs/s")
				b.ReportMetric(float64(n)/verify.Elapsed.Seconds(), "verify-keys/s")
				b.ReportMetric(float64(verify.Run.Reads)/float64(n), "verify-reads/key")
				b.ReportMetric(float64(n)/steady.Elapsed.Seconds(), "steady-keys/s")
				b.ReportMetric(float64(steady.Run.Reads)/float64(n), "reads/key")
				b.ReportMetric(float64(steady.Run.ChunksRead), "index-chunks")
				b.ReportMetric(float64(n)/listOnly(b, rs, prefix).Seconds(), "list-only-keys/s")
				b.ReportMetric(float64(max(peak, verifyPeak, steadyPeak))/(1<<20), "peak-heap-MiB")
				b.ReportMetric(float64(peak)/(1<<20), "backfill-heap-MiB")
				b.ReportMetric(float64(verifyPeak)/(1<<20), "verify-heap-MiB")
				b.ReportMetric(float64(steadyPeak)/(1<<20), "steady-heap-MiB")
			}
		})
	}
}

// withStateBucket keeps the pass's checkpoint and verified-versions index in a new bucket of
// the first Region's versitygw (the state bucket on AWS).
func withStateBucket(b testing.TB, rs *reconcileSet, bucket string, opts reconcile.Options) reconcile.Options {
	b.Helper()
	c := rs.client(rs.members[0].Region)
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		b.Fatal(err)
	}
	st, err := docstore.NewS3(c, bucket)
	if err != nil {
		b.Fatal(err)
	}
	opts.Checkpoint = docstore.Document{Store: st, Key: "reconcile/checkpoint.json"}
	opts.Index, opts.IndexPrefix = st, "reconcile/index/"
	return opts
}

// listOnly lists the versions under prefix in every member at once, page after page, and
// returns how long it took: the floor of a pass that reads nothing but the listings.
func listOnly(b *testing.B, rs *reconcileSet, prefix string) time.Duration {
	b.Helper()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, len(rs.members))
	for _, m := range rs.members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := reconcile.Query{Prefix: prefix, MaxKeys: 1000}
			for {
				p, err := rs.store.ListVersionsPage(context.Background(), m.Region, m.Bucket, q)
				if err != nil {
					errs <- err
					return
				}
				if !p.Truncated {
					return
				}
				q.KeyMarker, q.VersionIDMarker = p.NextKeyMarker, p.NextVersionIDMarker
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// measure runs one reconcile pass and samples the heap in use while it runs.
func measure(b *testing.B, rs *reconcileSet, opts reconcile.Options) (reconcile.Summary, uint64) {
	b.Helper()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	s, err := newReconcileRunner(b, rs, opts).Run(context.Background())
	close(stop)
	wg.Wait()
	if err != nil {
		b.Fatal(err)
	}
	return s, peak.Load()
}

// seed writes n small objects under prefix in region only, 32 at a time.
func seed(b testing.TB, rs *reconcileSet, region, prefix string, n int) {
	b.Helper()
	c := rs.client(region)
	bucket := rs.servers[region].Bucket
	keys := make(chan int)
	var wg sync.WaitGroup
	var failed atomic.Value
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range keys {
				_, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(fmt.Sprintf("%s%07d", prefix, i)),
					Body: strings.NewReader(fmt.Sprintf("object %d", i))})
				if err != nil {
					failed.Store(err)
				}
			}
		}()
	}
	for i := range n {
		keys <- i
	}
	close(keys)
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatalf("seed: %v", err)
	}
}
