package reconcile

import (
	"context"
	"errors"
	"maps"

	"github.com/mrap-engine/mrap/shared/replication"
)

// TagsDiffer is the repair kind of a copy whose tag set differs from the origin copy's
// (Options.CompareTags).
const TagsDiffer Kind = "tags-differ"

// compareTags brings the tag sets of a converged key (every Region holds a copy of the same
// origin version) to the origin Region's copy, the authority of the tag rule
// (docs/contracts.md, "Tag changes"): one GetObjectTagging per Region, then one
// PutObjectTagging per differing copy. It needs a store that reads and writes tags
// (replication.TagStore; shared/s3store.Store fits); other stores compare nothing.
func (r *run) compareTags(ctx context.Context, v KeyView) {
	ts, ok := r.store.(replication.TagStore)
	if !ok || len(v.States) == 0 {
		return
	}
	origin := -1
	for i, s := range v.States {
		if !s.Exists || s.DeleteMarker || !s.Known || !s.Origin.Same(v.States[0].Origin) {
			return // not converged on one version: the version repairs come first
		}
		if s.Region == s.Origin.Region {
			origin = i
		}
	}
	if origin < 0 {
		return
	}
	sets := make([]map[string]string, len(v.States))
	for i, s := range v.States {
		m := r.members[i]
		if err := wait(ctx, r.readRL); err != nil {
			return
		}
		r.runC.reads.Add(1)
		tags, err := ts.Tags(ctx, m.Region, m.Bucket, v.Key, s.VersionID)
		if errors.Is(err, replication.ErrNotFound) {
			r.runC.skipped.Add(1) // changed since the listing: the next pass sees it
			return
		}
		if err != nil {
			r.runC.skipped.Add(1)
			r.fail("read tags of %s %q version %s: %v", m.Region, v.Key, s.VersionID, err)
			return
		}
		sets[i] = tags
	}
	want := sets[origin]
	counted := false
	for i, s := range v.States {
		if i == origin || maps.Equal(sets[i], want) {
			continue
		}
		if !counted {
			r.runC.divergent.Add(1)
			counted = true
		}
		r.runC.planned.Add(1)
		r.runC.kind(TagsDiffer)
		m := r.members[i]
		rep := Repair{Repair: replication.Repair{Region: m.Region, Key: v.Key, Action: replication.ActionTags, Origin: s.Origin,
			SourceRegion: v.States[origin].Region, SourceVersionID: v.States[origin].VersionID}, Kind: TagsDiffer}
		var o replication.Outcome
		var err error
		if !r.opts.DryRun {
			if err = wait(ctx, r.repairRL); err == nil {
				err = ts.PutTags(ctx, m.Region, m.Bucket, v.Key, s.VersionID, want)
			}
			switch {
			case errors.Is(err, replication.ErrNotFound):
				r.runC.repSkipped.Add(1) // the copy went meanwhile
				err = nil
			case err != nil:
				r.runC.failed.Add(1)
				r.fail("repair tags of %s %q version %s: %v", m.Region, v.Key, s.VersionID, err)
			default:
				r.runC.done.Add(1)
				o = replication.Outcome{Region: m.Region, Bucket: m.Bucket, Status: replication.Replicated, Action: replication.ActionTags}
			}
		}
		if r.opts.OnRepair != nil {
			r.opts.OnRepair(rep, o)
		}
	}
}
