// Package reconcile makes every member bucket converge: it streams the current state of a key
// range from every member (ListObjectVersions, paginated, merged by key in one pass), plans the
// repairs with the replication conflict rule unchanged, and has the replication engine carry
// them out (same fidelity, same marks). It imports no AWS SDK: listing, reading and repairing
// go through small ports (shared/s3store and replication.Engine implement them).
//
// # Plan (pure)
//
// For one key the planner sees each Region's current version: absent, a delete marker (its
// origin is its Region, version id and Last-Modified), or an object (its origin comes from
// its replica marks, so it needs a HEAD). The winner is the greatest origin by the conflict
// rule (replication.CompareIn, docs/contracts.md "Conflict rule"); two writes of one origin
// Region are ordered by that Region's own listing of the key, which the scan already holds
// (State.Versions, KeyView.Order). Then, in member order:
//   - the winner is an object: every Region that does not hold that write gets a copy of it,
//     from the origin Region when it still holds it, else from a Region holding a faithful
//     replica (the original marks are kept);
//   - the winner is a delete marker: every Region whose current version is an object gets a
//     delete marker; Regions already deleted, or without the key, are left as they are
//     (replication.DecideDestination, unchanged).
//
// Fewest reads: listings carry no metadata, so the origin of an object version is unknown
// until it is read. A delete marker's origin is in the listing, unless the engine wrote it:
// with a store that records the markers it writes (replication.MarkerStore) the runner reads
// each marker's record (one read per marker, only for keys where some Region serves an
// object) and a recorded marker has the origin of the delete it replicates. An object whose Last-Modified is before the
// best origin time already known cannot win (an origin time is never after the Last-Modified
// of any copy of it) and cannot be a copy of the winner, so it is repaired without a read
// (not in the winner's own Region: there its bucket's order, not the time, decides).
// Every other current object version is read once (HEAD of that version id, so the view stays
// the one the listing saw). With Options.Index, a key a previous pass verified converged and
// whose members still list the versions it recorded is settled without any read (index.go,
// docs/contracts.md "Reconcile index"): exact, since a version id is never reused and a version
// never changes in place. Options.TrustMatchingETags trades exactness for zero reads on keys
// whose Regions all hold objects of the same size and ETag.
//
// # Runner
//
// Runner.Run scans a prefix or key range in batches of PageSize keys, reads and repairs with a
// bounded worker pool and rate limits, and saves a checkpoint (a small JSON document) after
// each batch, so an interrupted run resumes after the last finished batch; the plan being a
// pure function of the current state, redoing a batch is harmless. Each member's next listing
// page is fetched while the current one is merged. DryRun plans and reports
// without writing. Runner.ReconcileKey does the same for one key (S3 Batch Operations).
package reconcile

import (
	"fmt"
	"slices"
	"time"

	"github.com/mrap-engine/mrap/shared/replication"
)

// Kind says why a Region needs a repair.
type Kind string

// The kinds of repair.
const (
	// MissingReplica: the Region has no version of the key.
	MissingReplica Kind = "missing-replica"
	// StaleReplica: the Region holds an older write of the winner's origin Region (or an
	// object whose origin was not read because it cannot win).
	StaleReplica Kind = "stale-replica"
	// LostConflict: the Region holds a write (original or replica) whose origin lost to the
	// winner by the conflict rule.
	LostConflict Kind = "lost-conflict"
	// StaleDeleteMarker: the Region's delete marker is older than the winning object.
	StaleDeleteMarker Kind = "stale-delete-marker"
	// MissingDeleteMarker: the winner is a delete marker and the Region still serves an object.
	MissingDeleteMarker Kind = "missing-delete-marker"
)

// State is one Region's current version of a key.
type State struct {
	Region       string
	Exists       bool // false: the Region has no version of the key
	DeleteMarker bool
	VersionID    string
	LastModified time.Time
	ETag         string
	Size         int64
	// Known reports that Origin (and Replica) are set: always for delete markers, after a
	// read for objects.
	Known   bool
	Origin  replication.Origin
	Replica bool // the version carries replica marks
	// Versions are the Region's version ids of the key (delete markers included) as its
	// listing gives them, newest first: the Region's own order of the writes made in it, which
	// the conflict rule reads for two writes of one origin Region (replication.OriginOrder).
	Versions []string
}

// KeyView is the current state of one key in every member Region, in member order.
type KeyView struct {
	Key    string
	States []State
}

// Repair is one planned repair of one Region.
type Repair struct {
	replication.Repair
	Kind Kind
}

// Resolve fills in what the listing knows without a read: the origin of every delete marker.
func Resolve(v KeyView) KeyView {
	for i, s := range v.States {
		if s.Exists && s.DeleteMarker && !s.Known {
			v.States[i].Origin = replication.DestinationOrigin(s.Region, replication.Version{Exists: true, DeleteMarker: true, VersionID: s.VersionID, LastModified: s.LastModified})
			v.States[i].Known = true
		}
	}
	return v
}

// Unresolved returns the indexes of the object versions whose origin must be read before the
// view can be planned: every object not yet known, except those whose Last-Modified is before
// the best origin time already known (they lose whatever their marks say).
func Unresolved(v KeyView) []int {
	best, ok := bestKnown(v)
	var out []int
	for i, s := range v.States {
		if !s.Exists || s.Known || s.DeleteMarker {
			continue
		}
		if ok && s.LastModified.Before(best.Time) && s.Region != best.Region {
			continue // an older write of another Region, or a copy of one: loses by time
		}
		out = append(out, i)
	}
	return out
}

func bestKnown(v KeyView) (replication.Origin, bool) {
	var best replication.Origin
	ok := false
	for _, s := range v.States {
		if s.Exists && s.Known && (!ok || replication.WinsIn(s.Origin, best, v.Order(s.Origin.Region))) {
			best, ok = s.Origin, true
		}
	}
	return best, ok
}

// Order returns region's own order of the key's versions from its listing (State.Versions),
// nil when the view holds none for it.
func (v KeyView) Order(region string) *replication.OriginOrder {
	for _, s := range v.States {
		if s.Region != region || s.Versions == nil {
			continue
		}
		o := &replication.OriginOrder{Region: region, Newest: s.Versions}
		if s.Exists {
			o.Current = s.VersionID
		}
		return o
	}
	return nil
}

// OrdersNeeded returns the member Regions whose own order of the key's versions the plan of v
// needs and v does not hold (State.Versions): the origin Regions of two known current versions
// that the conflict rule can only order by their origin bucket (replication.NeedsOrder).
func OrdersNeeded(v KeyView) []string {
	var out []string
	for i, a := range v.States {
		for _, b := range v.States[i+1:] {
			if !a.Exists || !b.Exists || !a.Known || !b.Known || !replication.NeedsOrder(a.Origin, b.Origin) {
				continue
			}
			if r := a.Origin.Region; v.Order(r) == nil && !slices.Contains(out, r) && slices.ContainsFunc(v.States, func(s State) bool { return s.Region == r }) {
				out = append(out, r)
			}
		}
	}
	return out
}

// Plan returns the repairs that bring every Region of v to the winning write, in member
// order; nil when the key has converged. The same view always gives the same plan. It is an
// error to plan a view with unresolved object versions (see Unresolved).
func Plan(v KeyView) ([]Repair, error) {
	v = Resolve(v)
	if u := Unresolved(v); len(u) > 0 {
		return nil, fmt.Errorf("plan %q: origin of the current version in %s not read", v.Key, v.States[u[0]].Region)
	}
	winner, ok := bestKnown(v)
	if !ok {
		return nil, nil // no Region holds the key
	}
	var src *State
	for i, s := range v.States {
		if s.Exists && s.Known && !s.DeleteMarker && s.Origin.Same(winner) && (src == nil || (!s.Replica && src.Replica)) {
			src = &v.States[i]
		}
	}
	var out []Repair
	for _, s := range v.States {
		r := Repair{Repair: replication.Repair{Key: v.Key, Origin: winner, Region: s.Region}}
		if src == nil { // the winner is a delete marker
			if !s.Exists || s.DeleteMarker {
				continue
			}
			r.Action, r.Kind = replication.ActionDeleteMarker, MissingDeleteMarker
			out = append(out, r)
			continue
		}
		if s.Exists && s.Known && !s.DeleteMarker && s.Origin.Same(winner) {
			continue
		}
		r.Action, r.SourceRegion, r.SourceVersionID = replication.ActionCopy, src.Region, src.VersionID
		switch {
		case !s.Exists:
			r.Kind = MissingReplica
		case s.DeleteMarker:
			r.Kind = StaleDeleteMarker
		case !s.Known || s.Origin.Region == winner.Region:
			r.Kind = StaleReplica
		default:
			r.Kind = LostConflict
		}
		out = append(out, r)
	}
	return out, nil
}
