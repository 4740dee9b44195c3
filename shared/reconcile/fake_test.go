package reconcile

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/replication"
)

// buckets is a hand-written versioned bucket per Region implementing both replication.Store
// (so the real engine repairs it) and Store (paged listings like ListObjectVersions).
type buckets struct {
	mu      sync.Mutex
	now     time.Time
	seq     int
	objects map[string]map[string][]replication.Version // region -> key -> versions, oldest first
	data    map[string]string                           // version id -> body
	lists   int                                         // ListVersionsPage calls
	maxKeys int                                         // largest MaxKeys asked
	reads   int                                         // HeadVersion calls
}

var testMembers = []config.Member{{Region: eu, Bucket: "b-eu"}, {Region: us, Bucket: "b-us"}, {Region: ap, Bucket: "b-ap"}}

func newBuckets() *buckets {
	b := &buckets{now: t0, objects: map[string]map[string][]replication.Version{}, data: map[string]string{}}
	for _, m := range testMembers {
		b.objects[m.Region] = map[string][]replication.Version{}
	}
	return b
}

func (b *buckets) tick(d time.Duration) { b.mu.Lock(); b.now = b.now.Add(d); b.mu.Unlock() }

func (b *buckets) write(region, key string, v replication.Version, body string) replication.Version {
	b.seq++
	b.now = b.now.Add(10 * time.Millisecond)
	v.Exists, v.VersionID, v.LastModified = true, fmt.Sprintf("%s-%06d", region, b.seq), b.now
	if !v.DeleteMarker {
		v.ETag, v.Size = fmt.Sprintf("%q", body), int64(len(body))
	}
	b.objects[region][key] = append(b.objects[region][key], v)
	b.data[v.VersionID] = body
	return v
}

func (b *buckets) put(region, key, body string) replication.Version {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.write(region, key, replication.Version{Metadata: map[string]string{"owner": region}}, body)
}

func (b *buckets) del(region, key string) replication.Version {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.write(region, key, replication.Version{DeleteMarker: true}, "")
}

// state renders the current state of every key in region: "key=body" or "key=<deleted>"
// (absent keys and delete markers read the same).
func (b *buckets) state(region string) map[string]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string]string{}
	for k, vs := range b.objects[region] {
		cur := vs[len(vs)-1]
		if !cur.DeleteMarker {
			o := replication.DestinationOrigin(region, cur)
			out[k] = b.data[cur.VersionID] + " from " + o.Region + "/" + o.VersionID + " owner " + cur.Metadata["owner"]
		}
	}
	return out
}

func (b *buckets) current(region, key string) replication.Version {
	vs := b.objects[region][key]
	if len(vs) == 0 {
		return replication.Version{}
	}
	return vs[len(vs)-1]
}

func (b *buckets) Head(_ context.Context, region, _, key string) (replication.Version, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.current(region, key), nil
}

func (b *buckets) HeadVersion(_ context.Context, region, _, key, id string) (replication.Version, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reads++
	for _, v := range b.objects[region][key] {
		if v.VersionID == id {
			return v, nil
		}
	}
	return replication.Version{}, fmt.Errorf("head %s: %w", id, replication.ErrNotFound)
}

func (b *buckets) Copy(ctx context.Context, req replication.CopyRequest) (int64, error) {
	src, err := b.HeadVersion(ctx, req.SourceRegion, req.SourceBucket, req.Key, req.Source.VersionID)
	if err != nil {
		return 0, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	meta := maps.Clone(src.Metadata)
	if meta == nil {
		meta = map[string]string{}
	}
	maps.Copy(meta, req.Marks)
	v := b.write(req.DestRegion, req.Key, replication.Version{Metadata: meta}, b.data[src.VersionID])
	return v.Size, nil
}

func (b *buckets) PutDeleteMarker(_ context.Context, region, _, key string) error {
	b.del(region, key)
	return nil
}

func (b *buckets) ListVersions(context.Context, string, string, string) ([]replication.Version, error) {
	return nil, fmt.Errorf("not used")
}

func (b *buckets) DeleteVersion(context.Context, string, string, string, string) error {
	return fmt.Errorf("not used")
}

// ListVersionsPage pages like ListObjectVersions: keys in byte order, versions newest first,
// at most MaxKeys entries, continuing after (KeyMarker, VersionIDMarker).
func (b *buckets) ListVersionsPage(_ context.Context, region, _ string, q Query) (Page, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lists++
	b.maxKeys = max(b.maxKeys, q.MaxKeys)
	keys := slices.Sorted(maps.Keys(b.objects[region]))
	i := sort.SearchStrings(keys, q.KeyMarker)
	var all []Entry
	for _, k := range keys[i:] {
		if len(k) < len(q.Prefix) || k[:len(q.Prefix)] != q.Prefix {
			continue
		}
		vs := b.objects[region][k]
		for j := len(vs) - 1; j >= 0; j-- {
			v := vs[j]
			all = append(all, Entry{Key: k, VersionID: v.VersionID, Latest: j == len(vs)-1, DeleteMarker: v.DeleteMarker, LastModified: v.LastModified, ETag: v.ETag, Size: v.Size})
		}
	}
	// Drop what is at or before the markers.
	start := 0
	for start < len(all) {
		e := all[start]
		if e.Key < q.KeyMarker || e.Key == q.KeyMarker && q.VersionIDMarker == "" {
			start++
			continue
		}
		if e.Key == q.KeyMarker && q.VersionIDMarker != "" {
			start++
			if e.VersionID == q.VersionIDMarker {
				break
			}
			continue
		}
		break
	}
	all = all[start:]
	p := Page{Entries: all}
	if q.MaxKeys > 0 && len(all) > q.MaxKeys {
		p.Entries, p.Truncated = all[:q.MaxKeys], true
		last := p.Entries[len(p.Entries)-1]
		p.NextKeyMarker, p.NextVersionIDMarker = last.Key, last.VersionID
	}
	return p, nil
}

var _ replication.Store = (*buckets)(nil)
var _ Store = (*buckets)(nil)
