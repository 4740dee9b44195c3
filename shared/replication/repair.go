package replication

import (
	"context"
	"errors"
	"fmt"

	"github.com/mrap-engine/mrap/shared/config"
)

// Repair asks the engine to bring one Region to a known winning write of a key: the
// reconciler plans repairs from listings, the engine carries them out with the same rule,
// fidelity and marks as replication.
type Repair struct {
	Key string
	// Action is ActionCopy (write the winning object version) or ActionDeleteMarker.
	Action Action
	// Origin is the winning write. For a copy it is the write the source version stems from
	// (the marks the replica gets, unchanged when the source is itself a faithful replica).
	Origin Origin
	// SourceRegion and SourceVersionID name the version to copy: the origin itself, or a
	// faithful replica of it when the origin Region no longer holds it. Unused for delete
	// markers.
	SourceRegion    string
	SourceVersionID string
	// Region is the Region repaired.
	Region string
}

// Skip reasons specific to repairs.
const (
	// SkipSourceChanged: the source version no longer carries the planned origin.
	SkipSourceChanged = "source-changed"
)

// Repair carries out one planned repair: it re-reads the source version (copies) and the
// destination's current version, applies DecideDestination unchanged (a destination that now
// holds the winner or something newer is left alone) and then copies the source version with
// the origin's marks, or writes a delete marker. The error is non-nil when the repair failed;
// IsPermanent tells retryable failures apart.
func (e *Engine) Repair(ctx context.Context, r Repair) (Outcome, error) {
	dst, ok := e.member(r.Region)
	out := Outcome{Region: r.Region, Bucket: dst.Bucket, Action: r.Action}
	fail := func(err error) (Outcome, error) {
		out.Status, out.Err = Failed, err
		return out, err
	}
	if !ok {
		return fail(Permanent(fmt.Errorf("repair %q: Region %s is not a member", r.Key, r.Region)))
	}
	if r.Key == "" || r.Origin.Region == "" || r.Origin.VersionID == "" {
		return fail(Permanent(fmt.Errorf("repair in %s: key %q or origin %+v missing", r.Region, r.Key, r.Origin)))
	}
	if IsInternalKey(r.Key) {
		out.Status, out.Action, out.Reason = Skipped, ActionSkip, SkipInternal
		return out, nil
	}
	d := Decision{Action: r.Action, Origin: r.Origin}
	switch r.Action {
	case ActionDeleteMarker:
		out = e.applyTo(ctx, config.Member{}, dst, r.Key, Version{}, d)
	case ActionCopy:
		src, ok := e.member(r.SourceRegion)
		if !ok || r.SourceRegion == r.Region || r.SourceVersionID == "" {
			return fail(Permanent(fmt.Errorf("repair %q in %s: bad source %s version %q", r.Key, r.Region, r.SourceRegion, r.SourceVersionID)))
		}
		v, err := e.store.HeadVersion(ctx, src.Region, src.Bucket, r.Key, r.SourceVersionID)
		if errors.Is(err, ErrNotFound) && !IsPermanent(err) {
			out.Status, out.Action, out.Reason = Skipped, ActionSkip, SkipSourceVersionGone
			return out, nil
		}
		if err != nil {
			return fail(fmt.Errorf("repair %q: read source %s version %s: %w", r.Key, src.Region, r.SourceVersionID, err))
		}
		if v.DeleteMarker || !DestinationOrigin(src.Region, v).Same(r.Origin) {
			out.Status, out.Action, out.Reason = Skipped, ActionSkip, SkipSourceChanged
			return out, nil
		}
		out = e.applyTo(ctx, src, dst, r.Key, v, d)
	default:
		return fail(Permanent(fmt.Errorf("repair %q in %s: action %q is not copy or delete-marker", r.Key, r.Region, r.Action)))
	}
	if out.Status == Failed {
		return out, out.Err
	}
	return out, nil
}

func (e *Engine) member(region string) (config.Member, bool) {
	for _, m := range e.members {
		if m.Region == region {
			return m, true
		}
	}
	return config.Member{}, false
}
