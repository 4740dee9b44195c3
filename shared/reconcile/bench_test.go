package reconcile

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/shared/docstore"
	"github.com/mrap-engine/mrap/shared/replication"
)

// synthetic is a Store over n keys that exist only as a formula: key i is "k%09d", written in
// Region i%3 and replicated everywhere except, for every tenth key, the last Region. Nothing
// is held in memory, so the heap the runner keeps is what the benchmark measures.
type synthetic struct {
	n       int
	regions []string
	reads   atomic.Int64
}

func (s *synthetic) origin(i int) replication.Origin {
	return replication.Origin{Region: s.regions[i%3], VersionID: "o" + strconv.Itoa(i), Time: t0.Add(time.Duration(i) * time.Second)}
}

func (s *synthetic) has(region string, i int) bool {
	return i%10 != 0 || region != s.regions[2] || s.regions[i%3] == region
}

func (s *synthetic) ListVersionsPage(_ context.Context, region, _ string, q Query) (Page, error) {
	start := 0
	if q.KeyMarker != "" {
		n, _ := strconv.Atoi(q.KeyMarker[1:])
		start = n + 1
	}
	p := Page{Entries: make([]Entry, 0, q.MaxKeys)}
	i := start
	for ; i < s.n && len(p.Entries) < q.MaxKeys; i++ {
		if !s.has(region, i) {
			continue
		}
		o := s.origin(i)
		lm, id := o.Time, o.VersionID
		if o.Region != region {
			lm, id = lm.Add(time.Second), region+strconv.Itoa(i)
		}
		p.Entries = append(p.Entries, Entry{Key: fmt.Sprintf("k%09d", i), VersionID: id, Latest: true, LastModified: lm, ETag: `"e"`, Size: 1})
	}
	if i < s.n {
		p.Truncated, p.NextKeyMarker = true, p.Entries[len(p.Entries)-1].Key
	}
	return p, nil
}

func (s *synthetic) HeadVersion(_ context.Context, region, _, key, versionID string) (replication.Version, error) {
	s.reads.Add(1)
	i, _ := strconv.Atoi(key[1:])
	o := s.origin(i)
	v := replication.Version{Exists: true, VersionID: versionID, LastModified: o.Time}
	if o.Region != region {
		v.Metadata = o.Marks()
		v.LastModified = o.Time.Add(time.Second)
	}
	return v, nil
}

func (s *synthetic) Head(context.Context, string, string, string) (replication.Version, error) {
	return replication.Version{}, fmt.Errorf("not used")
}

type countRepairs struct{ n atomic.Int64 }

func (c *countRepairs) Repair(context.Context, replication.Repair) (replication.Outcome, error) {
	c.n.Add(1)
	return replication.Outcome{Status: replication.Replicated}, nil
}

// BenchmarkRunner measures the scan, merge and plan path without I/O: keys per second and the
// heap held while scanning 100,000 and 1,000,000 keys in three Regions (one in ten keys
// missing a replica). The heap stays flat: it is bounded by the page size, not the key count.
// index=on runs two passes with the verified-versions index in a folder (docstore.Dir): the
// first reads and writes the index, the second (measured) settles the nine keys in ten that
// are converged without a read.
//
//	go test -run '^$' -bench BenchmarkRunner -benchtime 1x ./shared/reconcile/
func BenchmarkRunner(b *testing.B) {
	for _, index := range []bool{false, true} {
		for _, n := range []int{100_000, 1_000_000} {
			b.Run(fmt.Sprintf("index=%v/keys=%d", map[bool]string{false: "off", true: "on"}[index], n), func(b *testing.B) {
				for range b.N {
					benchRunner(b, n, index)
				}
			})
		}
	}
}

func benchRunner(b *testing.B, n int, index bool) {
	s := &synthetic{n: n, regions: []string{eu, us, ap}}
	rep := &countRepairs{}
	var peak uint64
	var ms runtime.MemStats
	opts := Options{Workers: 8, Progress: func(Progress) {
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
	}}
	if index {
		dir, err := docstore.NewDir(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		opts.Checkpoint, opts.Index = docstore.Document{Store: dir, Key: "checkpoint.json"}, dir
		first, err := New(s, rep, testMembers, opts)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := first.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		s.reads.Store(0)
		rep.n.Store(0)
		peak = 0
	}
	r, err := New(s, rep, testMembers, opts)
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	start := time.Now()
	sum, err := r.Run(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	el := time.Since(start)
	want := int64(0)
	for i := range n {
		if i%10 == 0 && i%3 != 2 {
			want++
		}
	}
	if sum.Run.KeysScanned != int64(n) || rep.n.Load() != want {
		b.Fatalf("scanned %d keys, %d repairs; want %d and %d", sum.Run.KeysScanned, rep.n.Load(), n, want)
	}
	if index && sum.Run.KeysSettled < int64(n)*8/10 {
		b.Fatalf("the index settled %d keys of %d", sum.Run.KeysSettled, n)
	}
	b.ReportMetric(float64(n)/el.Seconds(), "keys/s")
	b.ReportMetric(float64(s.reads.Load())/float64(n), "reads/key")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}
