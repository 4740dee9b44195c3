package replication

import (
	"github.com/mrap-engine/mrap/events"
)

// Action is what the engine does at one destination.
type Action string

// The actions of a Decision.
const (
	ActionSkip           Action = "skip"
	ActionCopy           Action = "copy"
	ActionDeleteMarker   Action = "delete-marker"
	ActionDeleteReplicas Action = "delete-replicas"
)

// Reasons for skipping, used as the Reason dimension of the Skipped metric.
const (
	SkipSuperseded                   = "superseded"
	SkipReplica                      = "replica"
	SkipSourceVersionGone            = "source-version-gone"
	SkipDuplicate                    = "duplicate"
	SkipDestinationNewer             = "destination-newer"
	SkipDestinationDeleted           = "destination-deleted"
	SkipDestinationAbsent            = "destination-absent"
	SkipPermanentDeleteNotReplicated = "permanent-delete-not-replicated"
	SkipNoReplica                    = "no-replica"
)

// Decision is the outcome of the pure replication rules: an action, the reason when it is a
// skip, and the origin of the write being replicated.
type Decision struct {
	Action Action
	Reason string
	Origin Origin
	// Order is the origin bucket's order of the key, when the engine read it because the
	// conflict rule needed it (NeedsOrder); nil otherwise.
	Order *OriginOrder
}

func skip(reason string) Decision { return Decision{Action: ActionSkip, Reason: reason} }

// Policy holds the configurable parts of the rules.
type Policy struct {
	ReplicatePermanentDeletes bool // replicate deletes of one version (DeleteObject with version id)
	ReplicateLifecycleDeletes bool // replicate lifecycle expirations
}

// SourceState is what the engine read at the source for a change.
type SourceState struct {
	Current     Version // the key's current version (HEAD without version id)
	VersionGone bool    // the change's version no longer exists at the source
}

// DecideSource applies the source rules to a change: whether it is still the source's
// current state, not a replica, and allowed by policy. It returns the action to take at every
// destination (copy, delete-marker or delete-replicas) with the origin of the write, or a skip.
func DecideSource(change events.ObjectChange, src SourceState, policy Policy) Decision {
	if IsInternalKey(change.Key) {
		return skip(SkipInternal)
	}
	cur := src.Current
	switch change.Kind {
	case events.Created:
		if change.VersionID != "" && (!cur.Exists || cur.DeleteMarker || cur.VersionID != change.VersionID) {
			if src.VersionGone {
				return skip(SkipSourceVersionGone)
			}
			return skip(SkipSuperseded)
		}
		if !cur.Exists || cur.DeleteMarker {
			return skip(SkipSourceVersionGone) // unversioned event and nothing current
		}
		if IsReplica(cur.Metadata) {
			return skip(SkipReplica)
		}
		o, _, _ := OriginOf(change.Region, cur.VersionID, cur.LastModified, change.Sequencer, nil)
		return Decision{Action: ActionCopy, Origin: o}
	case events.DeleteMarkerCreated:
		if !cur.Exists || !cur.DeleteMarker || cur.VersionID != change.VersionID {
			return skip(SkipSuperseded)
		}
		if IsReplica(cur.Metadata) {
			return skip(SkipReplica) // a marker the engine wrote: its origin was recorded (MarkerStore)
		}
		at := cur.LastModified
		if at.IsZero() {
			at = change.EventTime
		}
		o, _, _ := OriginOf(change.Region, cur.VersionID, at, change.Sequencer, nil)
		return Decision{Action: ActionDeleteMarker, Origin: o}
	case events.PermanentlyDeleted:
		allowed := policy.ReplicatePermanentDeletes
		if change.IsLifecycle() {
			allowed = policy.ReplicateLifecycleDeletes
		}
		if !allowed {
			return skip(SkipPermanentDeleteNotReplicated)
		}
		return Decision{Action: ActionDeleteReplicas, Origin: Origin{Region: change.Region, VersionID: change.VersionID, Sequencer: change.Sequencer}}
	}
	return skip(SkipSourceVersionGone)
}

// DestinationOrigin returns the origin of a destination's current version read in region: the
// one its marks name (for a delete marker the engine wrote, the marks a MarkerStore recorded
// for it), else (region, its version id, its Last-Modified). A version whose marks are
// unreadable counts as an original of region.
func DestinationOrigin(region string, dst Version) Origin {
	o, _, err := OriginOf(region, dst.VersionID, dst.LastModified, "", dst.Metadata)
	if err != nil {
		o, _, _ = OriginOf(region, dst.VersionID, dst.LastModified, "", nil)
	}
	return o
}

// DecideDestination applies the destination rules to a source decision and the destination's
// current version: skip a duplicate, never overwrite a winner, leave deletes alone. The
// conflict rule gets src.Order, which the caller reads when NeedsOrder says the rule needs it
// (Engine does).
func DecideDestination(src Decision, dstRegion string, dst Version) Decision {
	switch src.Action {
	case ActionCopy:
		if !dst.Exists {
			return src
		}
		d := DestinationOrigin(dstRegion, dst)
		if !dst.DeleteMarker && d.Same(src.Origin) {
			return Decision{Action: ActionSkip, Reason: SkipDuplicate, Origin: src.Origin}
		}
		if WinsIn(d, src.Origin, src.Order) {
			return Decision{Action: ActionSkip, Reason: SkipDestinationNewer, Origin: src.Origin}
		}
		return src
	case ActionDeleteMarker:
		switch {
		case !dst.Exists:
			return Decision{Action: ActionSkip, Reason: SkipDestinationAbsent, Origin: src.Origin}
		case dst.DeleteMarker:
			return Decision{Action: ActionSkip, Reason: SkipDestinationDeleted, Origin: src.Origin}
		case WinsIn(DestinationOrigin(dstRegion, dst), src.Origin, src.Order):
			return Decision{Action: ActionSkip, Reason: SkipDestinationNewer, Origin: src.Origin}
		}
		return src
	}
	return src
}

// ReplicasOf returns the version ids among versions (read in region, metadata filled in)
// whose replica marks name origin (its Region and version id). Delete markers never match.
func ReplicasOf(origin Origin, versions []Version) []string {
	var out []string
	for _, v := range versions {
		if v.DeleteMarker || !IsReplica(v.Metadata) {
			continue
		}
		m := markValues(v.Metadata)
		if m[MarkOriginRegion] == origin.Region && m[MarkOriginVersionID] == origin.VersionID {
			out = append(out, v.VersionID)
		}
	}
	return out
}
