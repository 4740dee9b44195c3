package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/docstore"
	"github.com/mrap-engine/mrap/shared/replication"
)

// Store is what the runner reads from the member buckets (shared/s3store.Store fits).
type Store interface {
	Lister
	// Head returns the current version of key with its metadata (ReconcileKey).
	Head(ctx context.Context, region, bucket, key string) (replication.Version, error)
	// HeadVersion returns one version with its metadata, or an error wrapping
	// replication.ErrNotFound.
	HeadVersion(ctx context.Context, region, bucket, key, versionID string) (replication.Version, error)
}

// Repairer carries out a repair (replication.Engine fits).
type Repairer interface {
	Repair(ctx context.Context, r replication.Repair) (replication.Outcome, error)
}

// Options configure a Runner. The zero value of every field has a usable default.
type Options struct {
	Scope
	// DryRun plans and reports repairs without writing anything.
	DryRun bool
	// Workers bounds the reads and repairs in flight (default 8).
	Workers int
	// PageSize is the keys per batch, and the entries per listing page (default 1000). The
	// checkpoint is saved after each batch.
	PageSize int
	// RepairRate limits repairs per second (0: no limit); ReadRate limits HEAD requests per
	// second (0: no limit).
	RepairRate float64
	ReadRate   float64
	// Budget stops the run at the first batch boundary after this much time (0: none); the
	// checkpoint lets the next run go on.
	Budget time.Duration
	// MinAge skips keys whose newest current version is younger than this (0: none): their
	// events may still be in flight, the replicator handles them.
	MinAge time.Duration
	// Exclude lists key prefixes left alone (not counted, not repaired): the engine's own
	// objects, DefaultExclude.
	Exclude []string
	// TrustMatchingETags takes a key whose Regions all hold an object of the same size and
	// ETag as converged without reading its origins (cheaper, blind to replica marks).
	TrustMatchingETags bool
	// CompareTags also compares the tag sets of keys whose Regions hold the same version and
	// writes the origin copy's set where they differ (tags.go): one GetObjectTagging per
	// Region per such key. Keys taken as converged by TrustMatchingETags are not compared.
	CompareTags bool
	// Checkpoint keeps the progress of the pass (nil: none, every run starts over).
	Checkpoint CheckpointStore
	// Index keeps the verified-versions index (index.go) next to the checkpoint: a key whose
	// listed versions are those a previous pass verified converged is not read again. It
	// needs Checkpoint (which records the generations); nil: no index, every object is read.
	Index docstore.Store
	// IndexPrefix is the key prefix of the index chunks in Index (default "index/").
	IndexPrefix string
	// EstimatedKeys is the expected keys in the scope, for the ETA (default: the count of the
	// previous complete pass, from the checkpoint).
	EstimatedKeys int64
	// Progress is called every ProgressEvery (default 1s) while a batch runs, after each batch
	// and at the end.
	Progress      func(Progress)
	ProgressEvery time.Duration
	// OnRepair is called for every repair planned, with its outcome (zero in a dry run).
	OnRepair func(Repair, replication.Outcome)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// DefaultExclude returns the prefixes of the engine's own per-Region objects (prober
// canaries, failover state), which must never be made identical across Regions.
func DefaultExclude() []string { return replication.InternalPrefixes() }

// Counts are the running totals of a pass.
type Counts struct {
	KeysScanned    int64            `json:"keys_scanned"`
	Reads          int64            `json:"reads"`          // HEAD requests to resolve origins
	Skipped        int64            `json:"skipped"`        // keys left for later (too recent, changed during the scan, unreadable)
	DivergentKeys  int64            `json:"divergent_keys"` // keys with at least one repair planned
	RepairsPlanned int64            `json:"repairs_planned"`
	RepairsDone    int64            `json:"repairs_done"`
	RepairsSkipped int64            `json:"repairs_skipped"` // the engine found nothing left to do
	RepairsFailed  int64            `json:"repairs_failed"`
	ByKind         map[string]int64 `json:"by_kind,omitempty"`
	IndexStats
}

// Progress is a snapshot for progress displays.
type Progress struct {
	Counts
	LastKey       string
	Elapsed       time.Duration
	KeysPerSecond float64
	// RepairsPerSecond counts repairs done (planned in a dry run).
	RepairsPerSecond float64
	// EstimatedKeys is the expected total (0: unknown); ETA is 0 when unknown.
	EstimatedKeys int64
	ETA           time.Duration
	Done          bool
}

// Summary is the result of a run.
type Summary struct {
	// Run counts this invocation; Pass counts the whole pass so far (resumed runs included).
	Run, Pass Counts
	// Complete reports that the pass reached the end of the scope; false: stopped by the
	// budget, the checkpoint holds the place.
	Complete bool
	Resumed  bool // the run continued a pass from the checkpoint
	After    string
	Elapsed  time.Duration
	// Failures holds up to 20 repair or read errors.
	Failures []string
	// IndexProblems holds up to 20 index chunks rejected or not written, and why: they cost
	// reads, never a wrong repair, so they are not failures.
	IndexProblems []string
}

// Runner plans and repairs one scope of the member buckets.
type Runner struct {
	store    Store
	repairer Repairer
	members  []config.Member
	opts     Options
	repairRL *rate.Limiter
	readRL   *rate.Limiter
}

// New returns a Runner over store (reads) and repairer (writes) for members. optFns adjust
// opts.
func New(store Store, repairer Repairer, members []config.Member, opts Options, optFns ...func(*Options)) (*Runner, error) {
	for _, fn := range optFns {
		fn(&opts)
	}
	if store == nil || repairer == nil {
		return nil, errors.New("reconcile: nil store or repairer")
	}
	if len(members) < 2 {
		return nil, fmt.Errorf("reconcile: want at least two members, got %d", len(members))
	}
	if opts.End != "" && opts.End <= opts.StartAfter {
		return nil, fmt.Errorf("reconcile: empty key range (start after %q, end %q)", opts.StartAfter, opts.End)
	}
	if opts.Workers <= 0 {
		opts.Workers = 8
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 1000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.IndexPrefix == "" {
		opts.IndexPrefix = "index/"
	}
	if opts.ProgressEvery <= 0 {
		opts.ProgressEvery = time.Second
	}
	limiter := func(perSecond float64) *rate.Limiter {
		if perSecond <= 0 {
			return nil
		}
		return rate.NewLimiter(rate.Limit(perSecond), max(1, int(perSecond/10)))
	}
	return &Runner{store: store, repairer: repairer, members: append([]config.Member(nil), members...), opts: opts,
		repairRL: limiter(opts.RepairRate), readRL: limiter(opts.ReadRate)}, nil
}

// run is the state of one Run.
type run struct {
	*Runner
	start time.Time
	cp    Checkpoint
	// cpVersion is the checkpoint's version this run read or last saved (its saves are
	// conditional on it).
	cpVersion string
	runC      counters
	passBase  Counts
	mu        sync.Mutex
	failures  []string
	// indexProblems are the index chunks rejected or not written (up to 20).
	indexProblems []string
	ir            *indexReader // nil: no index to read
	iw            *indexWriter // nil: no index to write
}

type counters struct {
	keys, reads, skipped, divergent, planned, done, repSkipped, failed atomic.Int64
	settled, chunksRead, chunksRejected, chunksWritten, writeErrors    atomic.Int64
	mu                                                                 sync.Mutex
	byKind                                                             map[string]int64
}

func (c *counters) kind(k Kind) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byKind == nil {
		c.byKind = map[string]int64{}
	}
	c.byKind[string(k)]++
}

func (c *counters) snapshot() Counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := Counts{KeysScanned: c.keys.Load(), Reads: c.reads.Load(), Skipped: c.skipped.Load(), DivergentKeys: c.divergent.Load(),
		RepairsPlanned: c.planned.Load(), RepairsDone: c.done.Load(), RepairsSkipped: c.repSkipped.Load(), RepairsFailed: c.failed.Load(),
		IndexStats: IndexStats{KeysSettled: c.settled.Load(), ChunksRead: c.chunksRead.Load(), ChunksRejected: c.chunksRejected.Load(),
			ChunksWritten: c.chunksWritten.Load(), WriteErrors: c.writeErrors.Load()}}
	if len(c.byKind) > 0 {
		out.ByKind = map[string]int64{}
		for k, v := range c.byKind {
			out.ByKind[k] = v
		}
	}
	return out
}

func addCounts(a, b Counts) Counts {
	out := Counts{KeysScanned: a.KeysScanned + b.KeysScanned, Reads: a.Reads + b.Reads, Skipped: a.Skipped + b.Skipped,
		DivergentKeys: a.DivergentKeys + b.DivergentKeys, RepairsPlanned: a.RepairsPlanned + b.RepairsPlanned,
		RepairsDone: a.RepairsDone + b.RepairsDone, RepairsSkipped: a.RepairsSkipped + b.RepairsSkipped, RepairsFailed: a.RepairsFailed + b.RepairsFailed,
		IndexStats: IndexStats{KeysSettled: a.KeysSettled + b.KeysSettled, ChunksRead: a.ChunksRead + b.ChunksRead,
			ChunksRejected: a.ChunksRejected + b.ChunksRejected, ChunksWritten: a.ChunksWritten + b.ChunksWritten, WriteErrors: a.WriteErrors + b.WriteErrors}}
	if len(a.ByKind)+len(b.ByKind) > 0 {
		out.ByKind = map[string]int64{}
		for k, v := range a.ByKind {
			out.ByKind[k] += v
		}
		for k, v := range b.ByKind {
			out.ByKind[k] += v
		}
	}
	return out
}

func (r *run) fail(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.failures) < 20 {
		r.failures = append(r.failures, fmt.Sprintf(format, args...))
	}
}

// Run scans the scope (resuming the checkpoint's pass when it has the same scope and is not
// complete), plans every key and repairs it unless DryRun. It stops at the end of the scope,
// at the budget, or when ctx ends (the batch in progress is then redone by the next run). An
// error means the run could not go on (listing or checkpoint failed, ctx ended); failed
// repairs are counted in the Summary, not returned.
func (rn *Runner) Run(ctx context.Context) (Summary, error) {
	r := &run{Runner: rn, start: rn.opts.Now()}
	prev, version, ok, err := loadCheckpoint(ctx, rn.opts.Checkpoint)
	if err != nil {
		return Summary{}, err
	}
	r.cpVersion = version
	resumed := r.startPass(prev, ok)
	r.openIndex(prev, ok, resumed)
	m := newMerger(rn.store, rn.members, rn.opts.Prefix, r.cp.After, rn.opts.End, rn.opts.PageSize)
	batch := make([]item, 0, rn.opts.PageSize)
	for {
		if err := ctx.Err(); err != nil {
			return r.summary(false, resumed), err
		}
		batch, err = r.fillBatch(ctx, m, batch[:0])
		if err != nil {
			return r.summary(false, resumed), err
		}
		if len(batch) > 0 {
			if err := r.process(ctx, batch); err != nil {
				return r.summary(false, resumed), err
			}
			r.cp.After = batch[len(batch)-1].view.Key
			r.writeIndex(ctx, batch)
		}
		end := len(batch) < rn.opts.PageSize
		if err := r.saveProgress(ctx, end); err != nil {
			return r.summary(false, resumed), err
		}
		r.progress(end)
		if end {
			return r.summary(true, resumed), nil
		}
		if rn.opts.Budget > 0 && rn.opts.Now().Sub(r.start) >= rn.opts.Budget {
			return r.summary(false, resumed), nil
		}
	}
}

// startPass sets the run's checkpoint: the previous pass's when it has the same scope and is
// not complete (it reports true: resumed), else a new pass.
func (r *run) startPass(prev Checkpoint, ok bool) bool {
	if ok && !prev.Complete && prev.Scope == r.opts.Scope {
		r.cp = prev
		r.passBase = prev.Counts
		r.cp.Runs++
		return true
	}
	r.cp = Checkpoint{Scope: r.opts.Scope, After: r.opts.StartAfter, Started: r.start}
	if ok && prev.Scope == r.opts.Scope {
		r.cp.LastTotalKeys = prev.Counts.KeysScanned
		if !prev.Complete {
			r.cp.LastTotalKeys = prev.LastTotalKeys
		}
	}
	r.cp.Runs++
	return false
}

// item is one key of a batch: its view, the index entry of the previous pass for it (nil:
// none) and, once processed, the entry this pass verified (nil: not converged, not read).
type item struct {
	view     KeyView
	hint     *IndexEntry
	verified *IndexEntry
}

// fillBatch appends up to PageSize keys from the merged listings to batch, each with its
// index entry.
func (r *run) fillBatch(ctx context.Context, m *merger, batch []item) ([]item, error) {
	for len(batch) < r.opts.PageSize {
		v, ok, err := m.next(ctx)
		if err != nil {
			return batch, fmt.Errorf("list after %q: %w", r.cp.After, err)
		}
		if !ok {
			break
		}
		batch = append(batch, item{view: v, hint: r.ir.lookup(ctx, v.Key)})
	}
	return batch, nil
}

// saveProgress records the batch just done in the checkpoint (complete at the end of the
// scope) with the counts and the index positions.
func (r *run) saveProgress(ctx context.Context, end bool) error {
	r.cp.Complete = end
	r.cp.Updated = r.opts.Now()
	r.cp.Counts = addCounts(r.passBase, r.runC.snapshot())
	if r.cp.Index != nil && r.ir != nil {
		r.cp.Index.ReadAt = r.ir.resumeAt()
	}
	v, err := saveCheckpoint(ctx, r.opts.Checkpoint, r.cp, r.cpVersion)
	if err != nil {
		return err
	}
	r.cpVersion = v
	return nil
}

func (r *run) summary(complete, resumed bool) Summary {
	run := r.runC.snapshot()
	r.mu.Lock()
	defer r.mu.Unlock()
	return Summary{Run: run, Pass: addCounts(r.passBase, run), Complete: complete, Resumed: resumed, After: r.cp.After,
		Elapsed: r.opts.Now().Sub(r.start), Failures: append([]string(nil), r.failures...), IndexProblems: append([]string(nil), r.indexProblems...)}
}

func (r *run) progress(done bool) {
	if r.opts.Progress == nil {
		return
	}
	pass := addCounts(r.passBase, r.runC.snapshot())
	run := r.runC.snapshot()
	el := r.opts.Now().Sub(r.start)
	p := Progress{Counts: pass, LastKey: r.cp.After, Elapsed: el, Done: done, EstimatedKeys: r.opts.EstimatedKeys}
	if p.EstimatedKeys == 0 {
		p.EstimatedKeys = r.cp.LastTotalKeys
	}
	if s := el.Seconds(); s > 0 {
		p.KeysPerSecond = float64(run.KeysScanned) / s
		p.RepairsPerSecond = float64(run.RepairsDone) / s
		if r.opts.DryRun {
			p.RepairsPerSecond = float64(run.RepairsPlanned) / s
		}
	}
	if p.EstimatedKeys > pass.KeysScanned && p.KeysPerSecond > 0 && !done {
		p.ETA = time.Duration(float64(p.EstimatedKeys-pass.KeysScanned) / p.KeysPerSecond * float64(time.Second))
	}
	r.opts.Progress(p)
}

// process resolves, plans and repairs one batch of keys with the worker pool.
func (r *run) process(ctx context.Context, batch []item) error {
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(r.opts.Workers, len(batch)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				batch[i].verified = r.key(ctx, batch[i].view, batch[i].hint)
			}
		}()
	}
	stop := make(chan struct{})
	ticked := make(chan struct{})
	go func() {
		defer close(ticked)
		if r.opts.Progress == nil {
			return
		}
		t := time.NewTicker(r.opts.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				r.progress(false)
			}
		}
	}()
	for i := range batch {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(stop)
	<-ticked
	return ctx.Err()
}

// key handles one key of a scan: the index entry hint settles it when every member still
// lists the versions it recorded; else its origins are read as needed and it is planned and
// repaired. It returns the entry to record when the key is verified converged (nil: not).
func (r *run) key(ctx context.Context, v KeyView, hint *IndexEntry) *IndexEntry {
	if r.excluded(v.Key) {
		return nil
	}
	r.runC.keys.Add(1)
	if r.tooRecent(v) {
		r.runC.skipped.Add(1)
		return nil
	}
	if r.opts.TrustMatchingETags && matchingObjects(v) {
		return nil // not verified: never recorded in the index
	}
	if hint.matches(v) {
		r.runC.settled.Add(1)
		hint.settle(v)
		if r.opts.CompareTags {
			r.compareTags(ctx, v) // a tag change makes no new version: the index cannot see it
		}
		return hint
	}
	if !r.resolveMarkers(ctx, v) || !r.readOrigins(ctx, v) {
		return nil
	}
	v = Resolve(v)
	if plan := r.repairKey(ctx, v); len(plan) == 0 && r.opts.CompareTags {
		r.compareTags(ctx, v)
	}
	if e, ok := entryOf(v); ok {
		return &e
	}
	return nil
}

// tooRecent reports that a member's current version of v is younger than MinAge.
func (r *run) tooRecent(v KeyView) bool {
	if r.opts.MinAge <= 0 {
		return false
	}
	now := r.opts.Now()
	return slices.ContainsFunc(v.States, func(s State) bool { return s.Exists && now.Sub(s.LastModified) < r.opts.MinAge })
}

// readOrigins reads (HEAD of the listed version) the origin of every object version of v the
// plan needs (Unresolved). It reports false when the key must be skipped.
func (r *run) readOrigins(ctx context.Context, v KeyView) bool {
	v = Resolve(v)
	for _, i := range Unresolved(v) {
		s := &v.States[i]
		m := r.members[i]
		if err := wait(ctx, r.readRL); err != nil {
			return false
		}
		r.runC.reads.Add(1)
		got, err := r.store.HeadVersion(ctx, m.Region, m.Bucket, v.Key, s.VersionID)
		if errors.Is(err, replication.ErrNotFound) {
			r.runC.skipped.Add(1) // changed since the listing: the next pass sees it
			return false
		}
		if err != nil {
			r.runC.skipped.Add(1)
			r.fail("read %s %q version %s: %v", m.Region, v.Key, s.VersionID, err)
			return false
		}
		resolveFromVersion(s, got)
	}
	return true
}

// markerReader is a store that tells the origin of the delete markers the engine wrote
// (replication.MarkerStore; shared/s3store.Store fits).
type markerReader interface {
	MarkerMarks(ctx context.Context, region, bucket, key, versionID string) (map[string]string, error)
}

// resolveMarkers gives each delete marker of v the origin recorded for it when the engine
// wrote it (one read per marker), so that a replica marker does not count as a delete made
// when it was written. Only keys where some Region serves an object need it: otherwise no
// origin changes the plan. It reports false when the key must be skipped (a read failed).
func (r *run) resolveMarkers(ctx context.Context, v KeyView) bool {
	mr, ok := r.store.(markerReader)
	if !ok || !slices.ContainsFunc(v.States, func(s State) bool { return s.Exists && !s.DeleteMarker }) {
		return true
	}
	for i, s := range v.States {
		if !s.Exists || !s.DeleteMarker || s.Known {
			continue
		}
		m := r.members[i]
		if err := wait(ctx, r.readRL); err != nil {
			return false
		}
		r.runC.reads.Add(1)
		marks, err := mr.MarkerMarks(ctx, m.Region, m.Bucket, v.Key, s.VersionID)
		if err != nil {
			r.runC.skipped.Add(1)
			r.fail("read %s %q delete marker %s: %v", m.Region, v.Key, s.VersionID, err)
			return false
		}
		if marks != nil {
			resolveFromVersion(&v.States[i], replication.Version{Exists: true, DeleteMarker: true, VersionID: s.VersionID, LastModified: s.LastModified, Metadata: marks})
		}
	}
	return true
}

func (rn *Runner) excluded(key string) bool {
	if replication.IsInternalKey(key) {
		return true // the engine's own per-Region objects, whatever Exclude says
	}
	for _, p := range rn.opts.Exclude {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// repairKey plans v and carries out (or reports) its repairs.
func (r *run) repairKey(ctx context.Context, v KeyView) []Result {
	plan, err := Plan(v)
	if err != nil {
		r.runC.skipped.Add(1)
		r.fail("%v", err)
		return nil
	}
	if len(plan) == 0 {
		return nil
	}
	r.runC.divergent.Add(1)
	out := make([]Result, 0, len(plan))
	for _, rep := range plan {
		r.runC.planned.Add(1)
		r.runC.kind(rep.Kind)
		var o replication.Outcome
		var err error
		if !r.opts.DryRun {
			if err = wait(ctx, r.repairRL); err == nil {
				o, err = r.repairer.Repair(ctx, rep.Repair)
			}
			switch {
			case err != nil:
				r.runC.failed.Add(1)
				r.fail("repair %s %q (%s): %v", rep.Region, rep.Key, rep.Kind, err)
			case o.Status == replication.Skipped:
				r.runC.repSkipped.Add(1)
			default:
				r.runC.done.Add(1)
			}
		}
		if r.opts.OnRepair != nil {
			r.opts.OnRepair(rep, o)
		}
		out = append(out, Result{Repair: rep, Outcome: o, Err: err})
	}
	return out
}

func wait(ctx context.Context, l *rate.Limiter) error {
	if l == nil {
		return nil
	}
	return l.Wait(ctx)
}

// resolveFromVersion sets the origin of s from the version read with its metadata.
func resolveFromVersion(s *State, got replication.Version) {
	s.Origin = replication.DestinationOrigin(s.Region, got)
	s.Replica = !got.DeleteMarker && replication.IsReplica(got.Metadata)
	s.Known = true
}

// matchingObjects reports whether every Region holds an object of the same size and ETag.
func matchingObjects(v KeyView) bool {
	for _, s := range v.States {
		if !s.Exists || s.DeleteMarker || s.ETag == "" || s.ETag != v.States[0].ETag || s.Size != v.States[0].Size {
			return false
		}
	}
	return true
}

// Result is one repair of ReconcileKey and what came of it.
type Result struct {
	Repair  Repair
	Outcome replication.Outcome
	Err     error
}

// ReconcileKey reads the current version of key in every member (HEAD, metadata included),
// plans it and repairs it (or only plans it in a dry run); an excluded key is left alone. The error is non-nil when a Region
// could not be read or a repair failed; replication.IsPermanent tells retryable ones apart.
func (rn *Runner) ReconcileKey(ctx context.Context, key string) ([]Result, error) {
	if key == "" {
		return nil, replication.Permanent(errors.New("reconcile: empty key"))
	}
	if rn.excluded(key) {
		return nil, nil
	}
	v := KeyView{Key: key, States: make([]State, len(rn.members))}
	for i, m := range rn.members {
		got, err := rn.store.Head(ctx, m.Region, m.Bucket, key)
		if err != nil {
			return nil, fmt.Errorf("reconcile %q: read %s: %w", key, m.Region, err)
		}
		s := State{Region: m.Region, Exists: got.Exists, DeleteMarker: got.DeleteMarker, VersionID: got.VersionID, LastModified: got.LastModified, ETag: got.ETag, Size: got.Size}
		if got.Exists {
			resolveFromVersion(&s, got)
		}
		v.States[i] = s
	}
	for _, region := range OrdersNeeded(v) {
		i := slices.IndexFunc(rn.members, func(m config.Member) bool { return m.Region == region })
		ids, err := rn.listKey(ctx, rn.members[i], key)
		if err != nil {
			return nil, fmt.Errorf("reconcile %q: read the order of its versions in %s: %w", key, region, err)
		}
		v.States[i].Versions = ids
	}
	r := &run{Runner: rn, start: rn.opts.Now()}
	res := r.repairKey(ctx, v)
	var errs []error
	for _, x := range res {
		if x.Err != nil {
			errs = append(errs, x.Err)
		}
	}
	return res, errors.Join(errs...)
}

// listKey returns the version ids of exactly key in m, newest first, as its listing gives them.
func (rn *Runner) listKey(ctx context.Context, m config.Member, key string) ([]string, error) {
	q := Query{Prefix: key, MaxKeys: rn.opts.PageSize}
	var ids []string
	for {
		p, err := rn.store.ListVersionsPage(ctx, m.Region, m.Bucket, q)
		if err != nil {
			return nil, err
		}
		beyond := false
		for _, e := range p.Entries {
			switch {
			case e.Key == key:
				ids = append(ids, e.VersionID)
			case e.Key > key:
				beyond = true
			}
		}
		if beyond || !p.Truncated || len(ids) >= maxListedVersions {
			return ids, nil
		}
		q.KeyMarker, q.VersionIDMarker = p.NextKeyMarker, p.NextVersionIDMarker
	}
}
