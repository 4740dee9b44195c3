package reconcile

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/shared/docstore"
	"github.com/mrap-engine/mrap/shared/replication"
)

func testEntries(keys ...string) []IndexEntry {
	out := make([]IndexEntry, len(keys))
	for i, k := range keys {
		out[i] = IndexEntry{Key: k, Origin: IndexedOrigin{Region: eu, VersionID: "o-" + k, Time: 42},
			Versions: []IndexedVersion{{VersionID: "o-" + k, ETag: `"e"`, Size: 1, LastModified: 42}, {VersionID: "u-" + k, Size: 1, LastModified: 43, Replica: true}, {VersionID: "a-" + k, Size: 1, LastModified: 43, Replica: true}}}
	}
	return out
}

// rawChunk gzips a header and entry records as given, unchecked (to forge bad chunks).
func rawChunk(t *testing.T, h chunkHeader, entries []IndexEntry) []byte {
	t.Helper()
	line, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	raw := append(line, '\n')
	for i := range entries {
		raw = appendEntry(raw, &entries[i])
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Every way a chunk can be wrong rejects it whole; a good chunk reads back as written.
func TestIndexChunkIsRejectedWhenDamagedStaleOrForeign(t *testing.T) {
	want := chunkHeader{Generation: "g2", Config: "cfg", Seq: 3}
	entries := testEntries("a", "b", "c")
	good, err := encodeChunk(nil, want, entries)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeChunk(good, want, 3, "")
	if err != nil || len(got) != 3 || got[2].Key != "c" || !got[1].Versions[1].Replica || got[0].Origin.Time != 42 {
		t.Fatalf("good chunk: %v, %+v", err, got)
	}
	hdr := func(f func(*chunkHeader)) chunkHeader {
		h := want
		h.Format, h.Version, h.Count, h.First, h.Last = IndexFormat, indexFormatVersion, 3, "a", "c"
		f(&h)
		return h
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x40
	cases := []struct {
		name    string
		body    []byte
		members int
		after   string
		errHas  string
	}{
		{"a flipped byte", flipped, 3, "", ""},
		{"truncated", good[:len(good)-9], 3, "", ""},
		{"empty", nil, 3, "", "not gzip"},
		{"not gzip", []byte(`{"format":"mrap-reconcile-index"}`), 3, "", "not gzip"},
		{"an older format", rawChunk(t, hdr(func(h *chunkHeader) { h.Version = 0 }), entries), 3, "", "format version"},
		{"another format", rawChunk(t, hdr(func(h *chunkHeader) { h.Format = "other" }), entries), 3, "", "format"},
		{"another configuration", rawChunk(t, hdr(func(h *chunkHeader) { h.Config = "other-members" }), entries), 3, "", "another configuration"},
		{"a stale generation", rawChunk(t, hdr(func(h *chunkHeader) { h.Generation = "g1" }), entries), 3, "", "stale"},
		{"another sequence number", rawChunk(t, hdr(func(h *chunkHeader) { h.Seq = 4 }), entries), 3, "", "sequence"},
		{"entries missing", rawChunk(t, hdr(func(*chunkHeader) {}), entries[:2]), 3, "", "truncated"},
		{"keys out of order", rawChunk(t, hdr(func(h *chunkHeader) { h.First, h.Last = "b", "c" }), testEntries("b", "a", "c")), 3, "", "not after"},
		{"a key repeated", rawChunk(t, hdr(func(*chunkHeader) {}), testEntries("a", "a", "c")), 3, "", "not after"},
		{"keys not after the previous chunk", good, 3, "b", "not after"},
		{"another member count", good, 2, "", "one per member"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := decodeChunk(c.body, want, c.members, c.after)
			if err == nil || !strings.Contains(err.Error(), c.errHas) {
				t.Errorf("decode = %d entries, %v; want an error containing %q", len(got), err, c.errHas)
			}
		})
	}
}

// Chunks of long keys are split so each stays under the document size limit, and the reader
// streams every entry back in order across them.
func TestIndexChunksStayUnderTheDocumentLimit(t *testing.T) {
	ctx := context.Background()
	mem := docstore.NewMemory()
	gen := IndexGeneration{ID: "g", Slot: "a"}
	w := &indexWriter{store: mem, prefix: "i/", config: "cfg", gen: &gen}
	rng := rand.New(rand.NewPCG(1, 2))
	var keys []string
	for i := range 3000 {
		b := make([]byte, 1019)
		for j := range b {
			b[j] = byte('!' + rng.IntN(90))
		}
		keys = append(keys, fmt.Sprintf("%05d%s", i, b)[:1024])
	}
	n, err := w.write(ctx, testEntries(keys...))
	if err != nil || n < 4 || gen.Chunks != n {
		t.Fatalf("wrote %d chunks (generation says %d), %v; want several", n, gen.Chunks, err)
	}
	for seq := range n {
		d, err := mem.Get(ctx, chunkKey("i/", "cfg", "a", seq))
		if err != nil || len(d.Body) >= docstore.MaxSize {
			t.Errorf("chunk %d: %d bytes, %v; want under %d", seq, len(d.Body), err, docstore.MaxSize)
		}
	}
	rd := &indexReader{store: mem, prefix: "i/", config: "cfg", gen: gen, members: 3, held: -1}
	for i, k := range keys {
		if i%7 == 3 {
			continue // keys not asked are passed over
		}
		if e := rd.lookup(ctx, k); e == nil || e.Key != k {
			t.Fatalf("lookup of key %d: %v", i, e)
		}
	}
	if e := rd.lookup(ctx, keys[len(keys)-1]+"z"); e != nil {
		t.Errorf("a key after the last entry found %q", e.Key)
	}
}

// indexed returns the options of a run with a checkpoint and the index in mem.
func indexed(mem *docstore.Memory, opts Options) Options {
	opts.Checkpoint = docstore.Document{Store: mem, Key: "reconcile/checkpoint.json"}
	opts.Index = mem
	opts.IndexPrefix = "reconcile/index/"
	return opts
}

func mustRun(t *testing.T, b *buckets, opts Options) Summary {
	t.Helper()
	s, err := newRunner(t, b, nil, opts).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A pass after the one that verified the keys reads no object: every converged key is
// settled by the index; the pass that verified them read them as before.
func TestIndexSettlesConvergedKeysWithoutReads(t *testing.T) {
	b := newBuckets()
	diverge(b, 50)
	mem := docstore.NewMemory()
	mustRun(t, b, indexed(mem, Options{PageSize: 7})) // repairs
	verify := mustRun(t, b, indexed(mem, Options{PageSize: 7}))
	if verify.Run.RepairsPlanned != 0 || verify.Run.Reads == 0 || verify.Run.ChunksWritten == 0 {
		t.Fatalf("verifying pass: %+v; want reads, no repair, chunks written", verify.Run)
	}
	before := b.reads()
	s := mustRun(t, b, indexed(mem, Options{PageSize: 7}))
	// 40 keys hold an object everywhere; the 10 deleted ones cost no read without the index.
	if s.Run.Reads != 0 || b.reads() != before || s.Run.KeysSettled != 40 || s.Run.RepairsPlanned != 0 || s.Run.ChunksRejected != 0 {
		t.Errorf("indexed pass: %+v (store reads %d); want 0 reads, 40 keys settled", s.Run, b.reads()-before)
	}
	if s.Run.ChunksRead != verify.Run.ChunksWritten || s.Run.ChunksWritten != verify.Run.ChunksWritten {
		t.Errorf("chunks read %d, written %d; want the %d of the previous pass each", s.Run.ChunksRead, s.Run.ChunksWritten, verify.Run.ChunksWritten)
	}
}

// mutate changes a few keys of b the ways S3 allows: an overwrite in one Region, a delete, a
// version permanently deleted (an older one becomes current), a key deleted everywhere and
// recreated, a Region's copy replaced by a write of its own.
func mutate(b *buckets, rng *rand.Rand, keys int) {
	regions := []string{eu, us, ap}
	for range 1 + rng.IntN(6) {
		k := fmt.Sprintf("k%04d", rng.IntN(keys))
		r := regions[rng.IntN(3)]
		switch rng.IntN(5) {
		case 0:
			b.put(r, k, fmt.Sprintf("over-%d", rng.Int()))
		case 1:
			b.del(r, k)
		case 2:
			if cur := b.current(r, k); cur.Exists {
				_ = b.fs.DeleteVersion(context.Background(), r, "", k, cur.VersionID)
			}
		case 3:
			for _, x := range regions {
				for _, v := range b.fs.Versions(x, k) {
					_ = b.fs.DeleteVersion(context.Background(), x, "", k, v.VersionID)
				}
			}
			b.put(r, k, "recreated")
		case 4:
			b.fs.Put(r, k, "own", nil)
		}
		b.tick(time.Duration(rng.IntN(1500)) * time.Millisecond)
	}
}

// planOf returns the plan of a dry run of b, one line per repair, sorted.
func planOf(t *testing.T, b *buckets, opts Options) ([]string, Summary) {
	t.Helper()
	var out []string
	opts.DryRun = true
	opts.OnRepair = func(r Repair, _ replication.Outcome) {
		out = append(out, fmt.Sprintf("%s %s %s %s from %s/%s origin %s", r.Key, r.Region, r.Kind, r.Action, r.SourceRegion, r.SourceVersionID, r.Origin))
	}
	opts.Workers = 1 // OnRepair appends without a lock
	s := mustRun(t, b, opts)
	slices.Sort(out)
	return out, s
}

// The plan of one set of inputs is the same with and without the index, whatever changed
// since the index was written (descending and random version ids: TestMain).
func TestPlanIsTheSameWithAndWithoutTheIndex(t *testing.T) {
	for seed := range uint64(8) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, scheme.Seed))
			b := newBuckets()
			diverge(b, 40)
			mem := docstore.NewMemory()
			settled := int64(0)
			defer func() {
				if settled == 0 {
					t.Errorf("no key was settled by the index: the comparison proves nothing")
				}
			}()
			for round := range 6 {
				mustRun(t, b, indexed(mem, Options{PageSize: 1 + rng.IntN(9)})) // repairs, and indexes what it verified
				mutate(b, rng, 40)
				with, ws := planOf(t, b, indexed(mem, Options{PageSize: 5}))
				without, _ := planOf(t, b, Options{PageSize: 5})
				settled += ws.Run.KeysSettled
				if !slices.Equal(with, without) {
					t.Fatalf("round %d: plan with the index (%d settled)\n%s\nwithout\n%s", round, ws.Run.KeysSettled, strings.Join(with, "\n"), strings.Join(without, "\n"))
				}
			}
		})
	}
}

// A damaged, stale, foreign or missing index costs reads, never a different plan.
func TestDamagedIndexCostsReadsNeverAWrongRepair(t *testing.T) {
	ctx := context.Background()
	firstChunk := func(mem *docstore.Memory) (string, []byte) {
		cp, _, _, _ := loadCheckpoint(ctx, docstore.Document{Store: mem, Key: "reconcile/checkpoint.json"})
		key := chunkKey("reconcile/index/", cp.Index.Config, cp.Index.Write.Slot, 0)
		d, err := mem.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return key, d.Body
	}
	put := func(mem *docstore.Memory, key string, body []byte) {
		if _, err := mem.Put(ctx, key, body, docstore.Cond{}); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name     string
		damage   func(t *testing.T, mem *docstore.Memory)
		problems bool // the summary names a rejected chunk
	}{
		{"a flipped byte", func(t *testing.T, mem *docstore.Memory) {
			k, body := firstChunk(mem)
			body[len(body)/2] ^= 1
			put(mem, k, body)
		}, true},
		{"truncated", func(t *testing.T, mem *docstore.Memory) { k, body := firstChunk(mem); put(mem, k, body[:len(body)/2]) }, true},
		{"a chunk from another configuration", func(t *testing.T, mem *docstore.Memory) {
			k, body := firstChunk(mem)
			got, err := decodeChunk(body, chunkHeader{Generation: headerOf(t, body).Generation, Config: headerOf(t, body).Config}, 3, "")
			if err != nil {
				t.Fatal(err)
			}
			h := headerOf(t, body)
			h.Config = IndexConfig(testMembers[:2], Scope{})
			put(mem, k, mustEncode(t, h, got))
		}, true},
		{"a chunk of an older format", func(t *testing.T, mem *docstore.Memory) {
			k, body := firstChunk(mem)
			h := headerOf(t, body)
			h.Version = 0
			put(mem, k, rawChunk(t, h, nil))
		}, true},
		{"a stale slot (another generation)", func(t *testing.T, mem *docstore.Memory) {
			k, body := firstChunk(mem)
			h := headerOf(t, body)
			got, _ := decodeChunk(body, h, 3, "")
			h.Generation = "19700101T000000000000000Z"
			put(mem, k, mustEncode(t, h, got))
		}, true},
		{"a chunk missing", func(t *testing.T, mem *docstore.Memory) {
			k, _ := firstChunk(mem)
			d := map[string][]byte{}
			cp, _ := mem.Get(ctx, "reconcile/checkpoint.json")
			d["reconcile/checkpoint.json"] = cp.Body
			for seq := 1; ; seq++ {
				key := strings.TrimSuffix(k, "0000000000.gz") + fmt.Sprintf("%010d.gz", seq)
				doc, err := mem.Get(ctx, key)
				if err != nil {
					break
				}
				d[key] = doc.Body
			}
			mem.Wipe()
			for key, body := range d {
				put(mem, key, body)
			}
		}, true},
		{"the whole index lost", func(t *testing.T, mem *docstore.Memory) {
			cp, _ := mem.Get(ctx, "reconcile/checkpoint.json")
			mem.Wipe()
			put(mem, "reconcile/checkpoint.json", cp.Body)
		}, true},
		{"a checkpoint from before the index", func(t *testing.T, mem *docstore.Memory) {
			cp, version, _, _ := loadCheckpoint(ctx, docstore.Document{Store: mem, Key: "reconcile/checkpoint.json"})
			cp.Index = nil
			if _, err := saveCheckpoint(ctx, docstore.Document{Store: mem, Key: "reconcile/checkpoint.json"}, cp, version); err != nil {
				t.Fatal(err)
			}
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBuckets()
			diverge(b, 30)
			mem := docstore.NewMemory()
			opts := Options{PageSize: 10}
			mustRun(t, b, indexed(mem, opts))
			mustRun(t, b, indexed(mem, opts)) // verifies and indexes every key
			mutate(b, rand.New(rand.NewPCG(7, scheme.Seed)), 30)
			c.damage(t, mem)
			with, s := planOf(t, b, indexed(mem, opts))
			without, ref := planOf(t, b, opts)
			if !slices.Equal(with, without) {
				t.Fatalf("plan with the damaged index\n%s\nwithout\n%s", strings.Join(with, "\n"), strings.Join(without, "\n"))
			}
			if s.Run.Reads == 0 || s.Run.Reads > ref.Run.Reads || s.Run.KeysSettled >= 24 {
				t.Errorf("reads %d with the damaged index (%d keys settled), %d without; want the damaged chunk's keys read", s.Run.Reads, s.Run.KeysSettled, ref.Run.Reads)
			}
			if got := len(s.IndexProblems) > 0; got != c.problems || len(s.Failures) != 0 {
				t.Errorf("index problems %q, failures %q; want problems reported: %v, no failure", s.IndexProblems, s.Failures, c.problems)
			}
			mustRun(t, b, indexed(mem, opts)) // repairs
			mustRun(t, b, indexed(mem, opts)) // verifies
			again := mustRun(t, b, indexed(mem, opts))
			if again.Run.Reads != 0 || again.Run.ChunksRejected != 0 || again.Run.RepairsPlanned != 0 {
				t.Errorf("the passes after: %+v; want the index rebuilt, no reads", again.Run)
			}
		})
	}
}

func headerOf(t *testing.T, body []byte) chunkHeader {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var h chunkHeader
	if err := json.NewDecoder(zr).Decode(&h); err != nil {
		t.Fatal(err)
	}
	return h
}

func mustEncode(t *testing.T, h chunkHeader, entries []IndexEntry) []byte {
	t.Helper()
	body, err := encodeChunk(nil, h, entries)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// A pass cut into runs by the budget resumes reading the index where it stopped.
func TestResumedPassKeepsReadingTheIndex(t *testing.T) {
	b := newBuckets()
	diverge(b, 40)
	mem := docstore.NewMemory()
	mustRun(t, b, indexed(mem, Options{PageSize: 6}))
	mustRun(t, b, indexed(mem, Options{PageSize: 6}))
	var settled, reads int64
	for run := 0; ; run++ {
		clock := b.now()
		s := mustRun(t, b, indexed(mem, Options{PageSize: 6, Budget: time.Nanosecond, Now: func() time.Time { clock = clock.Add(time.Second); return clock }}))
		settled, reads = settled+s.Run.KeysSettled, reads+s.Run.Reads
		if s.Complete {
			if run < 5 || s.Pass.KeysScanned != 40 {
				t.Fatalf("pass complete after %d runs, %d keys; want one run per batch", run+1, s.Pass.KeysScanned)
			}
			break
		}
	}
	if settled != 32 || reads != 0 {
		t.Errorf("resumed runs settled %d keys with %d reads; want 32 and none", settled, reads)
	}
}

// Settled keys still have their tag sets compared with CompareTags (a tag change makes no
// new version), with no HEAD.
func TestIndexSettledKeysStillCompareTags(t *testing.T) {
	ctx := context.Background()
	b := &tagBuckets{buckets: newBuckets(), tags: map[string]map[string]string{}}
	b.put(eu, "k", "body")
	e, err := replication.New(b, testMembers, replication.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mem := docstore.NewMemory()
	run := func() Summary {
		r, err := New(b, e, testMembers, indexed(mem, Options{CompareTags: true}))
		if err != nil {
			t.Fatal(err)
		}
		s, err := r.Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	run() // copies
	run() // verifies and indexes
	b.tags[b.fs.Current(ap, "k").VersionID] = map[string]string{"class": "public"}
	s := run()
	// Reads counts the 3 tag reads; without the index there would be 3 HEADs more.
	if s.Run.KeysSettled != 1 || s.Run.Reads != 3 || s.Run.ByKind[string(TagsDiffer)] != 1 || s.Run.RepairsDone != 1 {
		t.Errorf("summary %+v; want the key settled by the index, 3 tag reads and its tag set repaired", s.Run)
	}
}
