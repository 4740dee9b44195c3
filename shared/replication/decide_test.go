package replication

import (
	"slices"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/events"
)

var (
	t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	t1 = t0.Add(time.Second)
	t2 = t0.Add(2 * time.Second)
)

func obj(id string, at time.Time, meta map[string]string) Version {
	return Version{Exists: true, VersionID: id, LastModified: at, Metadata: meta}
}

func marker(id string, at time.Time) Version {
	return Version{Exists: true, DeleteMarker: true, VersionID: id, LastModified: at}
}

func replicaOf(o Origin) map[string]string { return o.Marks() }

func TestDecideSource(t *testing.T) {
	created := events.ObjectChange{Region: "eu-west-1", Bucket: "b", Key: "k", RawKey: "k", VersionID: "v2", Sequencer: "0B", Kind: events.Created}
	deleted := events.ObjectChange{Region: "eu-west-1", Bucket: "b", Key: "k", RawKey: "k", VersionID: "m1", Kind: events.DeleteMarkerCreated, EventTime: t2}
	permanent := events.ObjectChange{Region: "eu-west-1", Bucket: "b", Key: "k", RawKey: "k", VersionID: "v1", Kind: events.PermanentlyDeleted, Reason: events.ReasonDeleteObject}
	lifecycle := permanent
	lifecycle.Reason = events.ReasonLifecycleExpiration
	tests := []struct {
		name       string
		change     events.ObjectChange
		src        SourceState
		policy     Policy
		wantAction Action
		wantReason string
		wantOrigin Origin
	}{
		{name: "current original is copied with its origin", change: created, src: SourceState{Current: obj("v2", t1.Add(400*time.Millisecond), nil)},
			wantAction: ActionCopy, wantOrigin: Origin{Region: "eu-west-1", VersionID: "v2", Time: t1, Sequencer: "0B"}},
		{name: "newer version at source: superseded", change: created, src: SourceState{Current: obj("v3", t2, nil)}, wantAction: ActionSkip, wantReason: SkipSuperseded},
		{name: "delete marker at source: superseded", change: created, src: SourceState{Current: marker("m9", t2)}, wantAction: ActionSkip, wantReason: SkipSuperseded},
		{name: "event version gone: recorded skip", change: created, src: SourceState{Current: obj("v3", t2, nil), VersionGone: true}, wantAction: ActionSkip, wantReason: SkipSourceVersionGone},
		{name: "key gone entirely", change: created, src: SourceState{VersionGone: true}, wantAction: ActionSkip, wantReason: SkipSourceVersionGone},
		{name: "replica at source is not sent back", change: created, src: SourceState{Current: obj("v2", t1, replicaOf(Origin{Region: "us-east-1", VersionID: "o", Time: t0}))}, wantAction: ActionSkip, wantReason: SkipReplica},
		{name: "unversioned event uses the current version", change: events.ObjectChange{Region: "eu-west-1", Bucket: "b", Key: "k", RawKey: "k", Kind: events.Created}, src: SourceState{Current: obj("null", t1, nil)},
			wantAction: ActionCopy, wantOrigin: Origin{Region: "eu-west-1", VersionID: "null", Time: t1}},
		{name: "current delete marker is replicated with its origin", change: deleted, src: SourceState{Current: marker("m1", t1)},
			wantAction: ActionDeleteMarker, wantOrigin: Origin{Region: "eu-west-1", VersionID: "m1", Time: t1}},
		{name: "delete marker without Last-Modified uses the event time", change: deleted, src: SourceState{Current: marker("m1", time.Time{})},
			wantAction: ActionDeleteMarker, wantOrigin: Origin{Region: "eu-west-1", VersionID: "m1", Time: t2}},
		{name: "delete marker no longer current: superseded", change: deleted, src: SourceState{Current: obj("v5", t2, nil)}, wantAction: ActionSkip, wantReason: SkipSuperseded},
		{name: "other delete marker current: superseded", change: deleted, src: SourceState{Current: marker("m2", t2)}, wantAction: ActionSkip, wantReason: SkipSuperseded},
		{name: "prober canary stays in its Region", change: events.ObjectChange{Region: "eu-west-1", Bucket: "b", Key: ".mrap-canary/probe", RawKey: ".mrap-canary/probe", VersionID: "v1", Kind: events.Created},
			src: SourceState{Current: obj("v1", t1, nil)}, wantAction: ActionSkip, wantReason: SkipInternal},
		{name: "failover state stays in its Region", change: events.ObjectChange{Region: "eu-west-1", Bucket: "b", Key: ".mrap-state/failover.json", RawKey: ".mrap-state/failover.json", VersionID: "m1", Kind: events.DeleteMarkerCreated},
			src: SourceState{Current: marker("m1", t1)}, wantAction: ActionSkip, wantReason: SkipInternal},
		{name: "permanent delete not configured", change: permanent, wantAction: ActionSkip, wantReason: SkipPermanentDeleteNotReplicated},
		{name: "permanent delete configured", change: permanent, policy: Policy{ReplicatePermanentDeletes: true},
			wantAction: ActionDeleteReplicas, wantOrigin: Origin{Region: "eu-west-1", VersionID: "v1"}},
		{name: "lifecycle expiration needs its own switch", change: lifecycle, policy: Policy{ReplicatePermanentDeletes: true}, wantAction: ActionSkip, wantReason: SkipPermanentDeleteNotReplicated},
		{name: "lifecycle expiration configured", change: lifecycle, policy: Policy{ReplicateLifecycleDeletes: true},
			wantAction: ActionDeleteReplicas, wantOrigin: Origin{Region: "eu-west-1", VersionID: "v1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DecideSource(tt.change, tt.src, tt.policy)
			if got.Action != tt.wantAction || got.Reason != tt.wantReason {
				t.Fatalf("got %s/%q, want %s/%q", got.Action, got.Reason, tt.wantAction, tt.wantReason)
			}
			if tt.wantAction != ActionSkip && (got.Origin.Region != tt.wantOrigin.Region || got.Origin.VersionID != tt.wantOrigin.VersionID ||
				!got.Origin.Time.Equal(tt.wantOrigin.Time) || got.Origin.Sequencer != tt.wantOrigin.Sequencer) {
				t.Errorf("origin = %+v, want %+v", got.Origin, tt.wantOrigin)
			}
		})
	}
}

func TestDecideDestination(t *testing.T) {
	src := Origin{Region: "eu-west-1", VersionID: "v2", Time: t1, Sequencer: "0B"}
	copyDecision := Decision{Action: ActionCopy, Origin: src}
	markerDecision := Decision{Action: ActionDeleteMarker, Origin: Origin{Region: "eu-west-1", VersionID: "m1", Time: t1}}
	tests := []struct {
		name       string
		decision   Decision
		dst        Version
		wantAction Action
		wantReason string
	}{
		{name: "empty destination gets the copy", decision: copyDecision, dst: Version{}, wantAction: ActionCopy},
		{name: "older original at destination is overwritten", decision: copyDecision, dst: obj("d1", t0, nil), wantAction: ActionCopy},
		{name: "older replica at destination is overwritten", decision: copyDecision, dst: obj("d1", t2, replicaOf(Origin{Region: "us-east-1", VersionID: "x", Time: t0})), wantAction: ActionCopy},
		{name: "destination already holds this origin: duplicate", decision: copyDecision, dst: obj("d1", t2, replicaOf(src)), wantAction: ActionSkip, wantReason: SkipDuplicate},
		{name: "newer original at destination wins", decision: copyDecision, dst: obj("d1", t2, nil), wantAction: ActionSkip, wantReason: SkipDestinationNewer},
		{name: "newer replica at destination wins (reordered events)", decision: copyDecision,
			dst: obj("d1", t2, replicaOf(Origin{Region: "eu-west-1", VersionID: "v3", Time: t2})), wantAction: ActionSkip, wantReason: SkipDestinationNewer},
		{name: "same second same Region: greater sequencer at destination wins", decision: copyDecision,
			dst: obj("d1", t2, replicaOf(Origin{Region: "eu-west-1", VersionID: "v0", Time: t1, Sequencer: "0C"})), wantAction: ActionSkip, wantReason: SkipDestinationNewer},
		{name: "same second same Region: smaller sequencer at destination loses", decision: copyDecision,
			dst: obj("d1", t2, replicaOf(Origin{Region: "eu-west-1", VersionID: "vz", Time: t1, Sequencer: "0A"})), wantAction: ActionCopy},
		{name: "concurrent write tie: greater Region at destination wins", decision: copyDecision, dst: obj("d1", t1.Add(300*time.Millisecond), nil), wantAction: ActionSkip, wantReason: SkipDestinationNewer},
		{name: "concurrent write tie: smaller Region at destination loses", decision: copyDecision, dst: obj("d1", t1, replicaOf(Origin{Region: "ap-south-1", VersionID: "z", Time: t1})), wantAction: ActionCopy},
		{name: "older delete marker at destination: object comes back", decision: copyDecision, dst: marker("dm", t0), wantAction: ActionCopy},
		{name: "newer delete marker at destination wins", decision: copyDecision, dst: marker("dm", t2), wantAction: ActionSkip, wantReason: SkipDestinationNewer},
		{name: "unreadable marks count as an original of the destination", decision: copyDecision,
			dst: obj("d1", t0, map[string]string{"mrap-origin-region": "us-east-1", "mrap-origin-time": "garbage"}), wantAction: ActionCopy},
		{name: "delete marker over an older object", decision: markerDecision, dst: obj("d1", t0, nil), wantAction: ActionDeleteMarker},
		{name: "delete marker over an older replica", decision: markerDecision, dst: obj("d1", t2, replicaOf(Origin{Region: "eu-west-1", VersionID: "v1", Time: t0})), wantAction: ActionDeleteMarker},
		{name: "delete marker loses to a newer write", decision: markerDecision, dst: obj("d1", t2, nil), wantAction: ActionSkip, wantReason: SkipDestinationNewer},
		{name: "destination already deleted is left alone", decision: markerDecision, dst: marker("dm", t0), wantAction: ActionSkip, wantReason: SkipDestinationDeleted},
		{name: "destination without the key is left alone", decision: markerDecision, dst: Version{}, wantAction: ActionSkip, wantReason: SkipDestinationAbsent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DecideDestination(tt.decision, "us-east-1", tt.dst)
			if got.Action != tt.wantAction || got.Reason != tt.wantReason {
				t.Errorf("got %s/%q, want %s/%q", got.Action, got.Reason, tt.wantAction, tt.wantReason)
			}
		})
	}
}

func TestReplicasOf(t *testing.T) {
	o := Origin{Region: "eu-west-1", VersionID: "v1", Time: t0}
	versions := []Version{
		obj("a", t0, replicaOf(o)),
		obj("b", t1, replicaOf(Origin{Region: "eu-west-1", VersionID: "v2", Time: t1})),
		obj("c", t1, nil),
		marker("d", t2),
		obj("e", t2, map[string]string{"mrap-origin-region": "eu-west-1", "mrap-origin-version-id": "v1", "mrap-origin-time": "bad"}),
	}
	got := ReplicasOf(o, versions)
	if want := []string{"a", "e"}; !slices.Equal(got, want) {
		t.Errorf("ReplicasOf = %v, want %v", got, want)
	}
}
