package reconcile

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/docstore"
	"github.com/mrap-engine/mrap/shared/replication"
)

// The verified-versions index (docs/contracts.md, "Reconcile index") is the reconciler's own
// cache of the keys a pass found converged: for each, the current version of every member as
// the listing showed it and the origin write they are all copies of. An object version is
// immutable and its id is never reused in a bucket, so a key whose listed versions all equal
// the indexed ones is still converged and needs no read. The index is written by one pass and
// read by the next, in sorted, gzip-compressed chunks of one batch each, in two slots of the
// state store that the passes alternate between (the slot being read is never written).

// IndexFormat names the chunk format; indexFormatVersion is the version written and read.
const (
	IndexFormat        = "mrap-reconcile-index"
	indexFormatVersion = 1
	// maxChunkBytes bounds the uncompressed entries of one chunk, so that a compressed chunk
	// stays under docstore.MaxSize whatever the keys (1,024-byte keys included).
	maxChunkBytes = 768 << 10
)

// IndexEntry is one key the reconciler verified converged.
type IndexEntry struct {
	Key string
	// Origin is the write every member's current version is a copy of.
	Origin IndexedOrigin
	// Versions are the members' current versions as listed, in member order.
	Versions []IndexedVersion
}

// IndexedOrigin is a replication.Origin as the index stores it.
type IndexedOrigin struct {
	Region    string
	VersionID string
	Time      int64 // Unix nanoseconds
	Sequencer string
}

// IndexedVersion is one member's current version as its listing showed it.
type IndexedVersion struct {
	VersionID    string
	ETag         string
	Size         int64
	LastModified int64 // Unix nanoseconds, as listed
	Replica      bool
}

func indexedOrigin(o replication.Origin) IndexedOrigin {
	return IndexedOrigin{Region: o.Region, VersionID: o.VersionID, Time: o.Time.UnixNano(), Sequencer: o.Sequencer}
}

func (o IndexedOrigin) origin() replication.Origin {
	return replication.Origin{Region: o.Region, VersionID: o.VersionID, Time: time.Unix(0, o.Time).UTC(), Sequencer: o.Sequencer}
}

// entryOf returns the index entry of v when every member holds an object copy of one origin
// write (v is converged and its plan is empty); ok false otherwise.
func entryOf(v KeyView) (IndexEntry, bool) {
	if len(v.States) == 0 {
		return IndexEntry{}, false
	}
	e := IndexEntry{Key: v.Key, Origin: indexedOrigin(v.States[0].Origin), Versions: make([]IndexedVersion, len(v.States))}
	for i, s := range v.States {
		if !s.Exists || s.DeleteMarker || !s.Known || !s.Origin.Same(v.States[0].Origin) {
			return IndexEntry{}, false
		}
		e.Versions[i] = IndexedVersion{VersionID: s.VersionID, ETag: s.ETag, Size: s.Size, LastModified: s.LastModified.UnixNano(), Replica: s.Replica}
	}
	return e, true
}

// matches reports whether every member of v lists exactly the version e recorded: same
// version id, ETag, size and Last-Modified, an object (not a delete marker).
func (e *IndexEntry) matches(v KeyView) bool {
	if e == nil || e.Key != v.Key || len(e.Versions) != len(v.States) {
		return false
	}
	for i, s := range v.States {
		x := e.Versions[i]
		if !s.Exists || s.DeleteMarker || s.VersionID == "" || s.VersionID != x.VersionID || s.ETag != x.ETag || s.Size != x.Size ||
			s.LastModified.UnixNano() != x.LastModified {
			return false
		}
	}
	return true
}

// settle gives every state of v the origin e recorded (e matches v).
func (e *IndexEntry) settle(v KeyView) {
	o := e.Origin.origin()
	for i := range v.States {
		v.States[i].Known, v.States[i].Origin, v.States[i].Replica = true, o, e.Versions[i].Replica
	}
}

// IndexConfig is the fingerprint of what an index is valid for: the members (Region and
// bucket, in order) and the scope. A chunk written for another fingerprint is not read.
func IndexConfig(members []config.Member, scope Scope) string {
	h := sha256.New()
	for _, m := range members {
		fmt.Fprintf(h, "member %q %q\n", m.Region, m.Bucket)
	}
	fmt.Fprintf(h, "scope %q %q %q\n", scope.Prefix, scope.StartAfter, scope.End)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// IndexGeneration is the index one pass writes: its id, its slot and its chunks.
type IndexGeneration struct {
	ID     string
	Slot   string `json:"slot"`
	Chunks int    `json:"chunks"` // chunks written so far (every one, when the pass is complete)
}

// IndexState is the index's part of the checkpoint.
type IndexState struct {
	Config string `json:"config"`
	// Read is the generation of the last complete pass, which this pass reads (nil: none);
	// ReadAt is the chunk of it to resume from.
	Read   *IndexGeneration `json:"read,omitempty"`
	ReadAt int              `json:"read_at,omitempty"`
	// Write is the generation this pass writes.
	Write IndexGeneration `json:"write"`
}

// chunkHeader is the first line of a chunk.
type chunkHeader struct {
	Format     string `json:"format"`
	Version    int    `json:"version"`
	Generation string `json:"generation"`
	Config     string `json:"config"`
	Seq        int    `json:"seq"`
	Count      int    `json:"count"`
	First      string `json:"first"`
	Last       string `json:"last"`
}

// chunkKey is the state-store key of chunk seq in slot of the index of configuration config:
// reconcilers of other scopes or member sets sharing a prefix never overwrite each other.
func chunkKey(prefix, config, slot string, seq int) string {
	return fmt.Sprintf("%s%s/%s/%010d.gz", prefix, config, slot, seq)
}

// encodeChunk writes a JSON header line, then the entries (in strictly increasing key order)
// as binary records (appendEntry), gzip-compressed; gzip's CRC-32 and length catch corruption
// and truncation.
// zw, when not nil, is reused (a compressor is large to allocate).
func encodeChunk(zw *gzip.Writer, h chunkHeader, entries []IndexEntry) ([]byte, error) {
	if len(entries) == 0 {
		return nil, errors.New("encode index chunk: no entries")
	}
	h.Format, h.Version, h.Count, h.First, h.Last = IndexFormat, indexFormatVersion, len(entries), entries[0].Key, entries[len(entries)-1].Key
	line, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("encode index chunk: %w", err)
	}
	raw := append(line, '\n')
	for i := range entries {
		if i > 0 && entries[i].Key <= entries[i-1].Key {
			return nil, fmt.Errorf("encode index chunk: key %q after %q", entries[i].Key, entries[i-1].Key)
		}
		raw = appendEntry(raw, &entries[i])
	}
	var buf bytes.Buffer
	if zw == nil {
		if zw, err = gzip.NewWriterLevel(&buf, gzip.BestSpeed); err != nil {
			return nil, fmt.Errorf("encode index chunk: %w", err)
		}
	} else {
		zw.Reset(&buf)
	}
	if _, err := zw.Write(raw); err != nil {
		return nil, fmt.Errorf("encode index chunk: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("encode index chunk: %w", err)
	}
	return buf.Bytes(), nil
}

// appendEntry appends e as a record: key, origin (Region, version id, time, sequencer), the
// number of versions, then per version its id, ETag, size, Last-Modified and replica flag.
// Strings are a uvarint length and the bytes; numbers are varints.
func appendEntry(b []byte, e *IndexEntry) []byte {
	b = appendString(b, e.Key)
	b = appendString(b, e.Origin.Region)
	b = appendString(b, e.Origin.VersionID)
	b = binary.AppendVarint(b, e.Origin.Time)
	b = appendString(b, e.Origin.Sequencer)
	b = binary.AppendUvarint(b, uint64(len(e.Versions)))
	for _, v := range e.Versions {
		b = appendString(b, v.VersionID)
		b = appendString(b, v.ETag)
		b = binary.AppendVarint(b, v.Size)
		b = binary.AppendVarint(b, v.LastModified)
		flag := byte(0)
		if v.Replica {
			flag = 1
		}
		b = append(b, flag)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// recordReader reads the records of appendEntry; the first error sticks.
type recordReader struct {
	b   []byte
	err error
}

func (r *recordReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("bad number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recordReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errors.New("bad number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recordReader) string() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.err = errors.New("string past the end")
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *recordReader) flag() bool {
	if r.err != nil || len(r.b) == 0 {
		r.err = cmp.Or(r.err, errors.New("flag past the end"))
		return false
	}
	f := r.b[0]
	r.b = r.b[1:]
	if f > 1 {
		r.err = fmt.Errorf("bad flag %d", f)
	}
	return f == 1
}

// entry reads one record of members versions.
func (r *recordReader) entry(members int) (IndexEntry, error) {
	e := IndexEntry{Key: r.string(), Origin: IndexedOrigin{Region: r.string(), VersionID: r.string(), Time: r.varint(), Sequencer: r.string()}}
	if n := r.uvarint(); r.err == nil && n != uint64(members) {
		return e, fmt.Errorf("entry %q: %d versions, want one per member (%d)", e.Key, n, members)
	}
	e.Versions = make([]IndexedVersion, members)
	for i := range e.Versions {
		e.Versions[i] = IndexedVersion{VersionID: r.string(), ETag: r.string(), Size: r.varint(), LastModified: r.varint(), Replica: r.flag()}
	}
	return e, r.err
}

// decodeChunk reads a chunk and checks it whole: format and version, generation, config
// fingerprint and sequence number as expected, entries in strictly increasing key order after
// after, the count and bounds of the header, each entry with one version per member, and
// gzip's checksum. Any failure rejects the whole chunk (its keys are then read).
func decodeChunk(body []byte, want chunkHeader, members int, after string) ([]IndexEntry, error) {
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("not gzip: %w", err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, 4*maxChunkBytes))
	if err != nil {
		return nil, fmt.Errorf("corrupt: %w", err)
	}
	line, rest, ok := bytes.Cut(raw, []byte("\n"))
	if !ok {
		return nil, errors.New("no header")
	}
	var h chunkHeader
	if err := json.Unmarshal(line, &h); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if err := checkHeader(h, want); err != nil {
		return nil, err
	}
	out := make([]IndexEntry, 0, min(h.Count, maxChunkBytes/64))
	prev := after
	r := &recordReader{b: rest}
	for len(r.b) > 0 {
		e, err := r.entry(members)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", len(out), err)
		}
		if e.Key <= prev && (len(out) > 0 || after != "") {
			return nil, fmt.Errorf("entry %d: key %q not after %q", len(out), e.Key, prev)
		}
		out, prev = append(out, e), e.Key
	}
	if len(out) != h.Count || len(out) == 0 || out[0].Key != h.First || out[len(out)-1].Key != h.Last {
		return nil, fmt.Errorf("truncated: %d entries, header says %d from %q to %q", len(out), h.Count, h.First, h.Last)
	}
	return out, nil
}

func checkHeader(h, want chunkHeader) error {
	switch {
	case h.Format != IndexFormat:
		return fmt.Errorf("format %q, want %q", h.Format, IndexFormat)
	case h.Version != indexFormatVersion:
		return fmt.Errorf("format version %d, want %d", h.Version, indexFormatVersion)
	case h.Config != want.Config:
		return fmt.Errorf("written for another configuration (%s, want %s)", h.Config, want.Config)
	case h.Generation != want.Generation:
		return fmt.Errorf("generation %q, want %q (stale slot)", h.Generation, want.Generation)
	case h.Seq != want.Seq:
		return fmt.Errorf("sequence %d, want %d", h.Seq, want.Seq)
	}
	return nil
}

// IndexStats count what the index did in a run.
type IndexStats struct {
	KeysSettled    int64 `json:"keys_settled_by_index"` // keys found converged without a read
	ChunksRead     int64 `json:"index_chunks_read"`
	ChunksRejected int64 `json:"index_chunks_rejected"` // missing, corrupt, stale or foreign: their keys are read
	ChunksWritten  int64 `json:"index_chunks_written"`
	WriteErrors    int64 `json:"index_write_errors"`
}

// indexReader streams the entries of one generation in key order, one chunk in memory.
type indexReader struct {
	store   docstore.Store
	prefix  string
	config  string
	gen     IndexGeneration
	members int
	next    int // the next chunk to load
	held    int // the chunk whose entries are held (-1: none)
	entries []IndexEntry
	i       int
	last    string // the last key of the last chunk accepted
	// onChunk is told of each chunk loaded: nil error, or why it was rejected.
	onChunk func(seq int, err error)
}

// lookup returns the entry of key, or nil; keys must be asked in increasing order.
func (ir *indexReader) lookup(ctx context.Context, key string) *IndexEntry {
	if ir == nil {
		return nil
	}
	for {
		for ir.i < len(ir.entries) && ir.entries[ir.i].Key < key {
			ir.i++
		}
		if ir.i < len(ir.entries) {
			if e := &ir.entries[ir.i]; e.Key == key {
				return e
			}
			return nil
		}
		if ir.next >= ir.gen.Chunks || ctx.Err() != nil {
			ir.entries, ir.held = nil, -1
			return nil
		}
		ir.load(ctx)
	}
}

// load reads the next chunk; a rejected chunk leaves no entries (its keys are read).
func (ir *indexReader) load(ctx context.Context) {
	seq := ir.next
	ir.next++
	ir.entries, ir.i, ir.held = nil, 0, seq
	doc, err := ir.store.Get(ctx, chunkKey(ir.prefix, ir.config, ir.gen.Slot, seq))
	if err == nil {
		ir.entries, err = decodeChunk(doc.Body, chunkHeader{Generation: ir.gen.ID, Config: ir.config, Seq: seq}, ir.members, ir.last)
	}
	if err != nil {
		ir.entries = nil
	} else {
		ir.last = ir.entries[len(ir.entries)-1].Key
	}
	if ir.onChunk != nil {
		ir.onChunk(seq, err)
	}
}

// resumeAt is the chunk a resumed run starts from: the one held (its later keys are still
// to come), else the next.
func (ir *indexReader) resumeAt() int {
	if ir.held >= 0 && ir.i < len(ir.entries) {
		return ir.held
	}
	return ir.next
}

// indexWriter writes one generation, chunk after chunk.
type indexWriter struct {
	store  docstore.Store
	prefix string
	config string
	gen    *IndexGeneration
	zw     *gzip.Writer // reused from chunk to chunk (nil until the first)
}

// write stores entries (in increasing key order) as one or more chunks of at most
// maxChunkBytes of entries each, and returns the chunks written and the first error.
func (iw *indexWriter) write(ctx context.Context, entries []IndexEntry) (int, error) {
	written := 0
	for len(entries) > 0 {
		n, size := 0, 0
		for n < len(entries) && (n == 0 || size+entrySize(entries[n]) <= maxChunkBytes) {
			size += entrySize(entries[n])
			n++
		}
		seq := iw.gen.Chunks
		if iw.zw == nil {
			iw.zw, _ = gzip.NewWriterLevel(io.Discard, gzip.BestSpeed) // a valid level: no error
		}
		body, err := encodeChunk(iw.zw, chunkHeader{Generation: iw.gen.ID, Config: iw.config, Seq: seq}, entries[:n])
		if err == nil {
			_, err = iw.store.Put(ctx, chunkKey(iw.prefix, iw.config, iw.gen.Slot, seq), body, docstore.Cond{})
		}
		iw.gen.Chunks++ // a chunk that failed is missing to the reader: its keys are read
		if err != nil {
			return written, fmt.Errorf("write index chunk %d: %w", seq, err)
		}
		written++
		entries = entries[n:]
	}
	return written, nil
}

// entrySize is an upper bound of an entry's record (appendEntry).
func entrySize(e IndexEntry) int {
	n := 48 + len(e.Key) + len(e.Origin.Region) + len(e.Origin.VersionID) + len(e.Origin.Sequencer)
	for _, v := range e.Versions {
		n += 48 + len(v.VersionID) + len(v.ETag)
	}
	return n
}

// otherSlot is the slot a pass writes when it reads slot s.
func otherSlot(s string) string {
	if s == "a" {
		return "b"
	}
	return "a"
}

// generationID names a pass's generation by its start (one writer per checkpoint).
func generationID(started time.Time) string {
	return strings.ReplaceAll(started.UTC().Format("20060102T150405.000000000Z"), ".", "")
}

// openIndex sets the index reader and writer of a run (none without Index or Checkpoint): a
// resumed pass goes on with its generations; a new pass reads the generation of the last
// complete pass of the same configuration, if any, and writes a new one in the other slot.
func (r *run) openIndex(prev Checkpoint, ok, resumed bool) {
	if r.opts.Index == nil || r.opts.Checkpoint == nil {
		r.cp.Index = nil
		return
	}
	cfg := IndexConfig(r.members, r.opts.Scope)
	if !resumed || r.cp.Index == nil || r.cp.Index.Config != cfg {
		st := &IndexState{Config: cfg}
		if ok && prev.Complete && prev.Index != nil && prev.Index.Config == cfg && prev.Index.Write.ID != "" {
			g := prev.Index.Write
			st.Read = &g
		}
		slot := "a"
		if st.Read != nil {
			slot = otherSlot(st.Read.Slot)
		}
		st.Write = IndexGeneration{ID: generationID(r.cp.Started), Slot: slot}
		r.cp.Index = st
	}
	st := r.cp.Index
	r.iw = &indexWriter{store: r.opts.Index, prefix: r.opts.IndexPrefix, config: cfg, gen: &st.Write}
	if st.Read != nil {
		r.ir = &indexReader{store: r.opts.Index, prefix: r.opts.IndexPrefix, config: cfg, gen: *st.Read, members: len(r.members),
			next: st.ReadAt, held: -1, onChunk: r.chunkLoaded}
	}
}

// chunkLoaded counts a chunk read, or rejected and why.
func (r *run) chunkLoaded(seq int, err error) {
	if err == nil {
		r.runC.chunksRead.Add(1)
		return
	}
	r.runC.chunksRejected.Add(1)
	r.indexProblem("index chunk %d of generation %s not used (its keys are read): %v", seq, r.ir.gen.ID, err)
}

func (r *run) indexProblem(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.indexProblems) < 20 {
		r.indexProblems = append(r.indexProblems, fmt.Sprintf(format, args...))
	}
}

// writeIndex records the keys of the batch verified converged in the generation written.
func (r *run) writeIndex(ctx context.Context, batch []item) {
	if r.iw == nil {
		return
	}
	var entries []IndexEntry
	for _, it := range batch {
		if it.verified != nil {
			entries = append(entries, *it.verified)
		}
	}
	n, err := r.iw.write(ctx, entries)
	r.runC.chunksWritten.Add(int64(n))
	if err != nil {
		r.runC.writeErrors.Add(1)
		r.indexProblem("%v (the next pass reads those keys)", err)
	}
}
