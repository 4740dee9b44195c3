package reconcile

import (
	"context"
	"maps"
	"sync"
	"testing"

	"github.com/mrap-engine/mrap/shared/replication"
)

// tagBuckets is the fake with a tag set per version id (a replication.TagStore).
type tagBuckets struct {
	*buckets
	mu   sync.Mutex
	tags map[string]map[string]string
	gets int
}

func (b *tagBuckets) Tags(ctx context.Context, region, bucket, key, id string) (map[string]string, error) {
	if _, err := b.HeadVersion(ctx, region, bucket, key, id); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gets++
	out := maps.Clone(b.tags[id])
	if out == nil {
		out = map[string]string{}
	}
	return out, nil
}

func (b *tagBuckets) PutTags(ctx context.Context, region, bucket, key, id string, tags map[string]string) error {
	if _, err := b.HeadVersion(ctx, region, bucket, key, id); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tags[id] = maps.Clone(tags)
	return nil
}

// With CompareTags, a key whose Regions hold the same version but different tag sets gets the
// origin copy's set everywhere (one tag read per Region); without it, tags are not read.
func TestReconcileComparesTagSetsBehindAFlag(t *testing.T) {
	ctx := context.Background()
	for _, compare := range []bool{false, true} {
		b := &tagBuckets{buckets: newBuckets(), tags: map[string]map[string]string{}}
		b.put(eu, "k", "body")
		e, err := replication.New(b, testMembers, replication.Options{})
		if err != nil {
			t.Fatal(err)
		}
		run := func(opts Options) Summary {
			r, err := New(b, e, testMembers, opts)
			if err != nil {
				t.Fatal(err)
			}
			s, err := r.Run(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		run(Options{}) // copies the version to the other Regions
		ids := map[string]string{}
		for _, m := range testMembers {
			ids[m.Region] = b.fs.Current(m.Region, "k").VersionID
		}
		b.tags[ids[eu]] = map[string]string{"class": "internal"}
		b.tags[ids[ap]] = map[string]string{"class": "public"}
		b.gets = 0
		s := run(Options{CompareTags: compare})
		if !compare {
			if b.gets != 0 || s.Run.RepairsPlanned != 0 {
				t.Errorf("without the flag: %d tag reads, %d repairs; want none", b.gets, s.Run.RepairsPlanned)
			}
			continue
		}
		if b.gets != 3 || s.Run.ByKind[string(TagsDiffer)] != 2 || s.Run.RepairsDone != 2 || s.Run.DivergentKeys != 1 {
			t.Errorf("with the flag: %d tag reads, summary %+v; want 3 reads and 2 tag repairs", b.gets, s.Run)
		}
		for _, m := range testMembers {
			if got := b.tags[ids[m.Region]]; !maps.Equal(got, map[string]string{"class": "internal"}) {
				t.Errorf("%s holds %v, want the origin's set", m.Region, got)
			}
			if got := len(b.fs.Versions(m.Region, "k")); got != 1 {
				t.Errorf("%s has %d versions; a tag repair writes none", m.Region, got)
			}
		}
	}
}
