package replication

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/mrap-engine/mrap/events"
	"github.com/mrap-engine/mrap/shared/config"
)

// Options configures an Engine.
type Options struct {
	Policy
	// DestinationConcurrency bounds the destinations worked on at once (default: all).
	DestinationConcurrency int
	// WriteAttempts bounds the writes at one destination while concurrent writes keep
	// changing it (default 5); then the destination fails with a retryable error wrapping
	// ErrConditionFailed, so the record is delivered again.
	WriteAttempts int
}

// Engine applies object changes from one member bucket to every other member.
type Engine struct {
	store   Store
	members []config.Member
	opts    Options
}

// New returns an Engine over store for members (every member bucket, the source included).
func New(store Store, members []config.Member, opts Options) (*Engine, error) {
	if store == nil {
		return nil, errors.New("replication: nil store")
	}
	if len(members) < 2 {
		return nil, fmt.Errorf("replication: want at least two members, got %d", len(members))
	}
	seen := map[string]bool{}
	for _, m := range members {
		if m.Region == "" || m.Bucket == "" {
			return nil, fmt.Errorf("replication: member %+v lacks a Region or bucket", m)
		}
		if seen[m.Region] {
			return nil, fmt.Errorf("replication: Region %s appears twice", m.Region)
		}
		seen[m.Region] = true
	}
	if opts.DestinationConcurrency <= 0 {
		opts.DestinationConcurrency = len(members)
	}
	if opts.WriteAttempts <= 0 {
		opts.WriteAttempts = 5
	}
	return &Engine{store: store, members: append([]config.Member(nil), members...), opts: opts}, nil
}

// Status is what happened at one destination.
type Status string

// The statuses of an Outcome.
const (
	Replicated Status = "replicated"
	Skipped    Status = "skipped"
	Failed     Status = "failed"
)

// Outcome is what happened at one destination Region.
type Outcome struct {
	Region string
	Bucket string
	Status Status
	Action Action // the action decided (copy, delete-marker, delete-replicas) or skip
	Reason string // why it was skipped
	Err    error  // why it failed
	Bytes  int64  // bytes copied
}

// Result reports what Apply did for one change.
type Result struct {
	Change       events.ObjectChange
	Key          string // the key acted on: the decoded key, or the raw key when only it held the version
	Origin       Origin // the write replicated (zero when skipped at the source)
	Destinations []Outcome
}

// Bytes returns the bytes copied to all destinations.
func (r Result) Bytes() int64 {
	var n int64
	for _, o := range r.Destinations {
		n += o.Bytes
	}
	return n
}

// Count returns how many destinations ended with status s.
func (r Result) Count(s Status) int {
	n := 0
	for _, o := range r.Destinations {
		if o.Status == s {
			n++
		}
	}
	return n
}

// Apply brings every member other than the change's own to the change's state for its key,
// by the rules of the package documentation. The error is non-nil when the change is
// malformed or the source could not be read (every destination then failed) or when at least
// one destination failed; it joins the failures, and IsPermanent tells retryable ones apart.
func (e *Engine) Apply(ctx context.Context, change events.ObjectChange) (Result, error) {
	res := Result{Change: change, Key: change.Key}
	src, dests, err := e.route(change)
	if err != nil {
		return res, e.failAll(&res, dests, Permanent(err))
	}
	if change.Kind == events.TagsChanged {
		return e.applyTags(ctx, src, dests, change) // tags.go
	}
	var state SourceState
	opened := &openedSource{}
	defer opened.close()
	if change.Kind != events.PermanentlyDeleted && !IsInternalKey(change.Key) { // internal keys: no I/O, DecideSource skips them
		key, st, err := e.readSource(ctx, src, change, opened)
		if err != nil {
			return res, e.failAll(&res, dests, fmt.Errorf("read source %s %s/%q: %w", src.Region, src.Bucket, change.Key, err))
		}
		res.Key, state = key, st
	}
	d := DecideSource(change, state, e.opts.Policy)
	res.Origin = d.Origin
	res.Destinations = make([]Outcome, len(dests))
	if d.Action == ActionSkip {
		for i, m := range dests {
			res.Destinations[i] = Outcome{Region: m.Region, Bucket: m.Bucket, Status: Skipped, Action: ActionSkip, Reason: d.Reason}
		}
		return res, nil
	}
	orders := &originOrders{}
	var wg sync.WaitGroup
	sem := make(chan struct{}, e.opts.DestinationConcurrency)
	for i, m := range dests {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			res.Destinations[i] = e.applyFrom(ctx, src, m, res.Key, state.Current, d, opened, orders)
		}()
	}
	wg.Wait()
	var errs []error
	for _, o := range res.Destinations {
		if o.Status == Failed {
			errs = append(errs, o.Err)
		}
	}
	return res, errors.Join(errs...)
}

// route finds the source member and the destinations of a change.
func (e *Engine) route(change events.ObjectChange) (config.Member, []config.Member, error) {
	var src config.Member
	var dests []config.Member
	for _, m := range e.members {
		if m.Region == change.Region {
			src = m
		} else {
			dests = append(dests, m)
		}
	}
	if err := change.Validate(); err != nil {
		return src, dests, err
	}
	if src.Region == "" {
		return src, dests, fmt.Errorf("change in Region %s: not a member Region", change.Region)
	}
	if src.Bucket != change.Bucket {
		return src, dests, fmt.Errorf("change in bucket %q: the member bucket of %s is %q", change.Bucket, change.Region, src.Bucket)
	}
	return src, dests, nil
}

func (e *Engine) failAll(res *Result, dests []config.Member, err error) error {
	res.Destinations = make([]Outcome, len(dests))
	for i, m := range dests {
		res.Destinations[i] = Outcome{Region: m.Region, Bucket: m.Bucket, Status: Failed, Err: err}
	}
	return err
}

// openedSource holds a source body opened with the source read, for the first copy to take.
type openedSource struct {
	mu  sync.Mutex
	src Source
}

func (o *openedSource) take() Source {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.src
	o.src = nil
	return s
}

func (o *openedSource) close() {
	if s := o.take(); s != nil {
		_ = s.Close()
	}
}

// readSource reads the source key's current version and resolves which key holds the change's
// version: the decoded key, or the raw key as sent when only it does. With a StreamingStore
// the current version's body is opened by the same request and left in opened.
func (e *Engine) readSource(ctx context.Context, src config.Member, change events.ObjectChange, opened *openedSource) (string, SourceState, error) {
	key := change.Key
	var cur Version
	var err error
	if ss, ok := e.store.(StreamingStore); ok && change.Kind == events.Created && ss.Streams(change.Size) {
		var body Source
		cur, body, err = ss.Open(ctx, src.Region, src.Bucket, key)
		opened.src = body
	} else {
		cur, err = e.store.Head(ctx, src.Region, src.Bucket, key)
	}
	if err != nil {
		return key, SourceState{}, err
	}
	if change.VersionID == "" || cur.VersionID == change.VersionID {
		return key, SourceState{Current: cur}, nil
	}
	opened.close()
	if change.RawKey != change.Key {
		raw, err := e.store.Head(ctx, src.Region, src.Bucket, change.RawKey)
		if err != nil {
			return key, SourceState{}, err
		}
		if raw.VersionID == change.VersionID {
			return change.RawKey, SourceState{Current: raw}, nil
		}
	}
	if change.Kind != events.Created {
		return key, SourceState{Current: cur}, nil
	}
	// The event's version is not current: tell "superseded" from "gone".
	gone, err := e.versionGone(ctx, src, key, change.VersionID)
	if err != nil {
		return key, SourceState{}, err
	}
	if gone && change.RawKey != change.Key {
		if gone, err = e.versionGone(ctx, src, change.RawKey, change.VersionID); err != nil {
			return key, SourceState{}, err
		}
	}
	return key, SourceState{Current: cur, VersionGone: gone}, nil
}

func (e *Engine) versionGone(ctx context.Context, m config.Member, key, versionID string) (bool, error) {
	_, err := e.store.HeadVersion(ctx, m.Region, m.Bucket, key, versionID)
	switch {
	case errors.Is(err, ErrNotFound):
		return true, nil
	case err != nil:
		return false, err
	}
	return false, nil
}

// applyTo carries out a source decision at one destination.
func (e *Engine) applyTo(ctx context.Context, src, dst config.Member, key string, srcVersion Version, d Decision) Outcome {
	return e.applyFrom(ctx, src, dst, key, srcVersion, d, &openedSource{}, &originOrders{})
}

// originOrders holds the origin bucket's order of one key once read, for every destination
// of a change.
type originOrders struct {
	mu    sync.Mutex
	order *OriginOrder
}

// withOrder returns d with the origin bucket's order of key when the conflict rule needs it
// to compare d's origin with other (NeedsOrder). The order is read once per change and again
// when it does not list other's version (written since).
func (e *Engine) withOrder(ctx context.Context, d Decision, key string, other Origin, orders *originOrders) (Decision, error) {
	if !NeedsOrder(d.Origin, other) {
		return d, nil
	}
	m, ok := e.member(d.Origin.Region)
	if !ok {
		return d, nil // an origin outside the members: the rule falls back (CompareIn)
	}
	orders.mu.Lock()
	defer orders.mu.Unlock()
	if o := orders.order; o == nil || !slices.Contains(o.Newest, other.VersionID) {
		vs, err := e.store.ListVersions(ctx, m.Region, m.Bucket, key)
		if err != nil {
			return d, fmt.Errorf("read the order of the versions in origin %s: %w", m.Region, err)
		}
		orders.order = OrderOf(m.Region, vs)
	}
	d.Order = orders.order
	return d, nil
}

// decide is DecideDestination with the origin bucket's order read when the rule needs it.
func (e *Engine) decide(ctx context.Context, d Decision, dst config.Member, key string, cur Version, orders *originOrders) (Decision, error) {
	if cur.Exists {
		var err error
		if d, err = e.withOrder(ctx, d, key, DestinationOrigin(dst.Region, cur), orders); err != nil {
			return Decision{}, err
		}
	}
	return DecideDestination(d, dst.Region, cur), nil
}

// applyFrom is applyTo that copies from the opened source body when one is left. The write
// is conditioned on the destination state it was decided on (ConditionalStore); when that
// state changed meanwhile, the destination is read again and the decision made again, at
// most Options.WriteAttempts times.
func (e *Engine) applyFrom(ctx context.Context, src, dst config.Member, key string, srcVersion Version, d Decision, opened *openedSource, orders *originOrders) Outcome {
	out := Outcome{Region: dst.Region, Bucket: dst.Bucket, Action: d.Action}
	fail := func(op string, err error) Outcome {
		out.Status = Failed
		out.Err = fmt.Errorf("%s %s/%q in %s (origin %s): %w", op, dst.Bucket, key, dst.Region, d.Origin, err)
		return out
	}
	if d.Action == ActionDeleteReplicas {
		return e.deleteReplicas(ctx, dst, key, d, out, fail)
	}
	cur, err := e.store.Head(ctx, dst.Region, dst.Bucket, key)
	if err != nil {
		return fail("read destination", err)
	}
	cs, conditional := e.store.(ConditionalStore)
	refused := false // the store refused a condition that held: write without it, verify after
	for attempt := 1; ; attempt++ {
		dd, err := e.decide(ctx, d, dst, key, cur, orders)
		if err != nil {
			return fail("decide", err)
		}
		out.Action = dd.Action
		if dd.Action == ActionSkip {
			out.Status, out.Reason = Skipped, dd.Reason
			return out
		}
		if dd.Action != ActionCopy && dd.Action != ActionDeleteMarker {
			return fail("apply", fmt.Errorf("unexpected action %q", dd.Action))
		}
		var cond Condition
		if conditional && !refused {
			cond = ConditionOf(cur)
		}
		op := "copy to"
		if dd.Action == ActionDeleteMarker {
			op = "put delete marker in"
		}
		n, err := e.write(ctx, src, dst, key, srcVersion, dd, cond, opened)
		switch {
		case errors.Is(err, ErrConditionFailed) && !IsPermanent(err):
			if attempt >= e.opts.WriteAttempts {
				return fail(op, fmt.Errorf("destination kept changing, %d attempts: %w", attempt, err))
			}
			again, err := e.store.Head(ctx, dst.Region, dst.Bucket, key)
			if err != nil {
				return fail("read destination", err)
			}
			refused = refused || sameState(again, cur)
			cur = again
			continue
		case errors.Is(err, ErrNotFound) && dd.Action == ActionCopy && !IsPermanent(err):
			out.Status, out.Reason = Skipped, SkipSourceVersionGone
			return out
		case err != nil:
			return fail(op, err)
		}
		out.Status, out.Bytes = Replicated, n
		if !conditional || (!cond.IsZero() && cs.Atomic(dst.Region, dd.Action == ActionDeleteMarker, srcVersion.Size)) {
			return out
		}
		// The write was not guarded atomically: check what the destination holds now.
		redo, after, err := e.verify(ctx, dst, key, d, cur, orders)
		if err != nil {
			return fail("verify", err)
		}
		if !redo {
			return out
		}
		if attempt >= e.opts.WriteAttempts {
			return fail(op, fmt.Errorf("destination kept changing, %d attempts: %w", attempt, ErrConditionFailed))
		}
		out.Bytes = 0
		cur = after
	}
}

// write carries out one copy or delete marker under cond.
func (e *Engine) write(ctx context.Context, src, dst config.Member, key string, srcVersion Version, d Decision, cond Condition, opened *openedSource) (int64, error) {
	if d.Action == ActionDeleteMarker {
		if ms, ok := e.store.(MarkerStore); ok {
			return 0, ms.PutReplicaDeleteMarker(ctx, dst.Region, dst.Bucket, key, d.Origin, cond)
		}
		if cs, ok := e.store.(ConditionalStore); ok && !cond.IsZero() {
			return 0, cs.PutDeleteMarkerIf(ctx, dst.Region, dst.Bucket, key, cond)
		}
		return 0, e.store.PutDeleteMarker(ctx, dst.Region, dst.Bucket, key)
	}
	req := CopyRequest{
		SourceRegion: src.Region, SourceBucket: src.Bucket, Key: key, Source: srcVersion,
		DestRegion: dst.Region, DestBucket: dst.Bucket, Marks: d.Origin.Marks(), Condition: cond,
	}
	if body := opened.take(); body != nil {
		return e.store.(StreamingStore).CopyFrom(ctx, req, body)
	}
	return e.store.Copy(ctx, req)
}

// verify checks a write the store did not guard atomically, given the destination state it
// was decided on (observed). It reports redo when a concurrent write that loses to d is now
// current (the write must be made again over after). When the engine's own replica is
// current but a concurrent winning replica landed just before it, the engine's replica is
// deleted (permanently, by version id) so that the winner is current again.
func (e *Engine) verify(ctx context.Context, dst config.Member, key string, d Decision, observed Version, orders *originOrders) (redo bool, after Version, err error) {
	after, err = e.store.Head(ctx, dst.Region, dst.Bucket, key)
	if err != nil {
		return false, after, err
	}
	dd, err := e.decide(ctx, d, dst, key, after, orders)
	if err != nil {
		return false, after, err
	}
	if dd.Action != ActionSkip {
		return true, after, nil
	}
	if d.Action != ActionCopy || !after.Exists || after.DeleteMarker || !DestinationOrigin(dst.Region, after).Same(d.Origin) {
		return false, after, nil
	}
	versions, err := e.store.ListVersions(ctx, dst.Region, dst.Bucket, key)
	if err != nil {
		return false, after, err
	}
	i := slices.IndexFunc(versions, func(v Version) bool { return v.VersionID == after.VersionID })
	if i < 0 || i+1 >= len(versions) || versions[i+1].VersionID == observed.VersionID {
		return false, after, nil
	}
	below := versions[i+1]
	if below.DeleteMarker {
		return false, after, nil // its origin time is its Last-Modified, not stable once noncurrent (below)
	}
	if below, err = e.store.HeadVersion(ctx, dst.Region, dst.Bucket, key, below.VersionID); errors.Is(err, ErrNotFound) {
		return false, after, nil
	} else if err != nil {
		return false, after, err
	}
	// Only a concurrent replica counts: its origin is in its marks. An original's origin time
	// is its Last-Modified, which versitygw v1.8.0 rewrites when the version stops being
	// current; a user's write has its own event anyway.
	if !IsReplica(below.Metadata) {
		return false, after, nil
	}
	bo := DestinationOrigin(dst.Region, below)
	if d, err = e.withOrder(ctx, d, key, bo, orders); err != nil {
		return false, after, err
	}
	if WinsIn(bo, d.Origin, d.Order) {
		if err := e.store.DeleteVersion(ctx, dst.Region, dst.Bucket, key, after.VersionID); err != nil && !errors.Is(err, ErrNotFound) {
			return false, after, err
		}
	}
	return false, after, nil
}

// sameState reports whether two reads of a destination saw the same current version.
func sameState(a, b Version) bool {
	return a.Exists == b.Exists && a.DeleteMarker == b.DeleteMarker && a.VersionID == b.VersionID && a.ETag == b.ETag
}

func (e *Engine) deleteReplicas(ctx context.Context, dst config.Member, key string, d Decision, out Outcome, fail func(string, error) Outcome) Outcome {
	versions, err := e.store.ListVersions(ctx, dst.Region, dst.Bucket, key)
	if err != nil {
		return fail("list versions of", err)
	}
	for i, v := range versions {
		if v.DeleteMarker {
			continue
		}
		full, err := e.store.HeadVersion(ctx, dst.Region, dst.Bucket, key, v.VersionID)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return fail("read version of", err)
		}
		versions[i].Metadata = full.Metadata
	}
	ids := ReplicasOf(d.Origin, versions)
	if len(ids) == 0 {
		out.Status, out.Action, out.Reason = Skipped, ActionSkip, SkipNoReplica
		return out
	}
	for _, id := range ids {
		if err := e.store.DeleteVersion(ctx, dst.Region, dst.Bucket, key, id); err != nil && !errors.Is(err, ErrNotFound) {
			return fail("delete version "+id+" of", err)
		}
	}
	out.Status = Replicated
	return out
}
