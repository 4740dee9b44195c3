package replication

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/mrap-engine/mrap/events"
	"github.com/mrap-engine/mrap/shared/config"
)

// TagStore is a Store that reads and replaces the tag set of one object version without
// writing a new version (S3 GetObjectTagging / PutObjectTagging / DeleteObjectTagging with a
// version id).
type TagStore interface {
	Store
	// Tags returns the tag set of one version (empty when it has none), or an error wrapping
	// ErrNotFound when the version is gone.
	Tags(ctx context.Context, region, bucket, key, versionID string) (map[string]string, error)
	// PutTags replaces the tag set of one version; an empty set deletes its tags.
	PutTags(ctx context.Context, region, bucket, key, versionID string, tags map[string]string) error
}

// TagRecorder is a TagStore that remembers the tag sets the engine wrote on each replica
// copy, so that the tag event of the engine's own write, however late it comes, is not taken
// for a user's change of that replica (which would be sent to the origin and could undo a
// later change made there).
type TagRecorder interface {
	TagStore
	// PutReplicaTags records tags as written by the engine on the version, then writes them
	// (PutTags).
	PutReplicaTags(ctx context.Context, region, bucket, key, versionID string, tags map[string]string) error
	// WroteTags reports whether tags is one of the last sets the engine wrote on the version.
	WroteTags(ctx context.Context, region, bucket, key, versionID string, tags map[string]string) (bool, error)
}

// TagHash is the canonical digest of a tag set that TagRecorders record (order-free).
func TagHash(tags map[string]string) string {
	keys := slices.Sorted(maps.Keys(tags))
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%d:%s=%d:%s;", len(k), k, len(tags[k]), tags[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// ActionTags is the action of a destination whose copy got the changed tag set.
const ActionTags Action = "tags"

// Skip reasons of tag changes.
const (
	// SkipTagsEqual: the copy already holds the tag set.
	SkipTagsEqual = "tags-equal"
	// SkipTagsNotCurrent: this Region's current version is not a copy of the tagged version
	// (overwritten, deleted, or not replicated yet); when no Region holds it as current the
	// whole change is this skip.
	SkipTagsNotCurrent = "tags-version-not-current"
	// SkipTagsViaOrigin: the change was made on a replica; it goes to the origin Region's copy
	// first, whose own tag event then brings every other copy to it.
	SkipTagsViaOrigin = "tags-via-origin"
	// SkipTagsDeleteMarker: the tagged version is a delete marker (S3 keeps no tags on one).
	SkipTagsDeleteMarker = "tags-delete-marker"
	// SkipTagsReplica: the replica's tag set is one the engine wrote there (TagRecorder): the
	// event is the engine's own write.
	SkipTagsReplica = "tags-replica"
)

// applyTags replicates a tag change (events.TagsChanged) by the tag rule of docs/contracts.md:
// the copy in the version's origin Region is the authority. A change there is written to every
// other Region whose current version is a copy of the same origin version (PutTags with that
// copy's own version id; no new version). A change made on a replica is written to the origin
// Region's copy only; the origin's own tag event then fans it out. When the origin Region no
// longer holds the version as current, the changed copy's tag set goes to every other copy.
// Copies that already hold the tag set are skipped, which ends the echo of the engine's own
// tag writes; with a TagRecorder, an event on a replica whose set the engine wrote there is
// skipped too (a late echo must not send an old set back to the origin).
func (e *Engine) applyTags(ctx context.Context, src config.Member, dests []config.Member, change events.ObjectChange) (Result, error) {
	res := Result{Change: change, Key: change.Key}
	ts, ok := e.store.(TagStore)
	if !ok {
		return res, e.failAll(&res, dests, Permanent(errors.New("tag change: the store cannot read or write tags")))
	}
	key := change.Key
	v, err := e.store.HeadVersion(ctx, src.Region, src.Bucket, key, change.VersionID)
	if errors.Is(err, ErrNotFound) && change.RawKey != change.Key {
		key = change.RawKey
		v, err = e.store.HeadVersion(ctx, src.Region, src.Bucket, key, change.VersionID)
	}
	res.Key = key
	skipAll := func(reason string) (Result, error) {
		res.Destinations = make([]Outcome, len(dests))
		for i, m := range dests {
			res.Destinations[i] = Outcome{Region: m.Region, Bucket: m.Bucket, Status: Skipped, Action: ActionSkip, Reason: reason}
		}
		return res, nil
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return skipAll(SkipSourceVersionGone)
	case err != nil:
		return res, e.failAll(&res, dests, fmt.Errorf("read tagged version %s %s/%q %s: %w", src.Region, src.Bucket, key, change.VersionID, err))
	case v.DeleteMarker:
		return skipAll(SkipTagsDeleteMarker)
	}
	origin := DestinationOrigin(src.Region, v)
	res.Origin = origin
	tags, err := ts.Tags(ctx, src.Region, src.Bucket, key, change.VersionID)
	if errors.Is(err, ErrNotFound) {
		return skipAll(SkipSourceVersionGone)
	}
	if err != nil {
		return res, e.failAll(&res, dests, fmt.Errorf("read tags of %s %s/%q %s: %w", src.Region, src.Bucket, key, change.VersionID, err))
	}
	tr, recorded := e.store.(TagRecorder)
	if recorded && src.Region != origin.Region {
		wrote, err := tr.WroteTags(ctx, src.Region, src.Bucket, key, change.VersionID, tags)
		if err != nil {
			return res, e.failAll(&res, dests, fmt.Errorf("read tag record of %s %s/%q %s: %w", src.Region, src.Bucket, key, change.VersionID, err))
		}
		if wrote {
			return skipAll(SkipTagsReplica)
		}
	}
	srcCur, err := e.store.Head(ctx, src.Region, src.Bucket, key)
	if err != nil {
		return res, e.failAll(&res, dests, fmt.Errorf("read source %s %s/%q: %w", src.Region, src.Bucket, key, err))
	}

	// The copy of the origin version each destination holds as current, if any.
	res.Destinations = make([]Outcome, len(dests))
	copies := make([]Version, len(dests))
	anyCurrent := srcCur.VersionID == change.VersionID
	originHolds := false
	for i, m := range dests {
		res.Destinations[i] = Outcome{Region: m.Region, Bucket: m.Bucket, Action: ActionSkip}
		cur, err := e.store.Head(ctx, m.Region, m.Bucket, key)
		if err != nil {
			res.Destinations[i].Status, res.Destinations[i].Err = Failed, fmt.Errorf("read destination %s/%q in %s: %w", m.Bucket, key, m.Region, err)
			continue
		}
		if cur.Exists && !cur.DeleteMarker && DestinationOrigin(m.Region, cur).Same(origin) {
			copies[i] = cur
			anyCurrent = true
			originHolds = originHolds || m.Region == origin.Region
		}
	}
	if !anyCurrent {
		return skipAll(SkipTagsNotCurrent)
	}
	viaOrigin := src.Region != origin.Region && originHolds
	var errs []error
	for i, m := range dests {
		out := &res.Destinations[i]
		switch {
		case out.Status == Failed:
			errs = append(errs, out.Err)
			continue
		case copies[i].VersionID == "":
			out.Status, out.Reason = Skipped, SkipTagsNotCurrent
			continue
		case viaOrigin && m.Region != origin.Region:
			out.Status, out.Reason = Skipped, SkipTagsViaOrigin
			continue
		}
		have, err := ts.Tags(ctx, m.Region, m.Bucket, key, copies[i].VersionID)
		if err == nil && maps.Equal(have, tags) {
			out.Status, out.Reason = Skipped, SkipTagsEqual
			continue
		}
		switch {
		case err == nil && recorded && m.Region != origin.Region:
			err = tr.PutReplicaTags(ctx, m.Region, m.Bucket, key, copies[i].VersionID, tags)
		case err == nil:
			err = ts.PutTags(ctx, m.Region, m.Bucket, key, copies[i].VersionID, tags)
		}
		switch {
		case errors.Is(err, ErrNotFound):
			out.Status, out.Reason = Skipped, SkipTagsNotCurrent // the copy went meanwhile
		case err != nil:
			out.Status, out.Action = Failed, ActionTags
			out.Err = fmt.Errorf("put tags on %s/%q version %s in %s (origin %s): %w", m.Bucket, key, copies[i].VersionID, m.Region, origin, err)
			errs = append(errs, out.Err)
		default:
			out.Status, out.Action = Replicated, ActionTags
		}
	}
	return res, errors.Join(errs...)
}
