package reconcile

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/shared/replication"
)

// sameSecondWorld is issue 11's data loss as the reconciler meets it: k written twice in
// eu-west-1 within one second; the first write reached every Region (with its event's
// sequencer), the second one's event was lost. Version ids sort against time (descending or
// random), listings carry no sequencer: only eu-west-1's own listing order says which write
// is the newer.
func sameSecondWorld(t *testing.T) (*buckets, replication.Version) {
	t.Helper()
	b := newBuckets()
	v1 := b.put(eu, "k", "first")
	o := replication.DestinationOrigin(eu, v1)
	o.Sequencer = "0062E99A88DC407001"
	for _, r := range []string{us, ap} {
		meta := maps.Clone(v1.Metadata)
		maps.Copy(meta, o.Marks())
		b.fs.Put(r, "k", "first", meta)
	}
	v2 := b.put(eu, "k", "second")
	if !v1.LastModified.Equal(v2.LastModified) {
		t.Fatalf("setup: the writes are not in one second: %s, %s", v1.LastModified, v2.LastModified)
	}
	return b, v2
}

func assertAllServe(t *testing.T, b *buckets, body string) {
	t.Helper()
	for _, r := range []string{eu, us, ap} {
		if cur := b.current(r, "k"); cur.DeleteMarker || b.fs.Body(r, cur.VersionID) != body {
			t.Errorf("%s serves %q, want %q", r, b.fs.Body(r, cur.VersionID), body)
		}
	}
}

func TestRunKeepsTheOriginsNewerSameSecondWrite(t *testing.T) {
	b, _ := sameSecondWorld(t)
	var kinds []Kind
	s, err := newRunner(t, b, nil, Options{OnRepair: func(r Repair, _ replication.Outcome) { kinds = append(kinds, r.Kind) }}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	assertAllServe(t, b, "second")
	if s.Run.RepairsDone != 2 || len(kinds) != 2 || kinds[0] != StaleReplica || kinds[1] != StaleReplica {
		t.Errorf("repairs %v (%d done), want the two stale replicas brought to the second write", kinds, s.Run.RepairsDone)
	}
}

func TestReconcileKeyKeepsTheOriginsNewerSameSecondWrite(t *testing.T) {
	b, _ := sameSecondWorld(t)
	if _, err := newRunner(t, b, nil, Options{}).ReconcileKey(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	assertAllServe(t, b, "second")
}

// TestRegionsHoldingOnlyReplicasFollowTheOrigin: the origin's two same-second writes reached
// one Region each (replicas without sequencers, as reconcile repairs write them) and the
// origin now serves a same-second delete: the delete wins everywhere.
func TestRegionsHoldingOnlyReplicasFollowTheOrigin(t *testing.T) {
	b := newBuckets()
	v1 := b.put(eu, "k", "first")
	v2 := b.put(eu, "k", "second")
	replicate(b, eu, "k", v1, "first", us)
	replicate(b, eu, "k", v2, "second", ap)
	b.tick(100 * time.Millisecond)
	b.del(eu, "k")
	if _, err := newRunner(t, b, nil, Options{}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{eu, us, ap} {
		if cur := b.current(r, "k"); !cur.DeleteMarker {
			t.Errorf("%s serves %q, want the delete", r, b.fs.Body(r, cur.VersionID))
		}
	}
}

// TestReplicasOnlyOrderedByTheOriginListing: us-east-1 and ap-southeast-2 hold replicas of
// two same-second writes of eu-west-1, which still lists both: the one it lists first wins,
// whatever the version ids say.
func TestReplicasOnlyOrderedByTheOriginListing(t *testing.T) {
	b := newBuckets()
	v1 := b.put(eu, "k", "first")
	v2 := b.put(eu, "k", "second")
	replicate(b, eu, "k", v1, "first", us)
	replicate(b, eu, "k", v2, "second", ap)
	if _, err := newRunner(t, b, nil, Options{}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	assertAllServe(t, b, "second")
}
