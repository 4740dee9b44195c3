package reconcile

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/shared/replication"
)

// markedBuckets is buckets with the records of the delete markers the engine wrote
// (replication.MarkerStore's read side): marks by marker version id.
type markedBuckets struct {
	*buckets
	marks       map[string]map[string]string
	markerReads int
}

func (b *markedBuckets) MarkerMarks(_ context.Context, _, _, _, versionID string) (map[string]string, error) {
	b.markerReads++
	return maps.Clone(b.marks[versionID]), nil
}

// TestEngineMarkersKeepTheirOrigin: us-east-1 deleted k (t0+1s), ap-southeast-2 wrote it
// after (t0+2s), and the engine's replica of the delete landed in eu-west-1 later (t0+3s).
// With the marker's record the write wins: it is copied over both markers. Without it the
// engine's marker looks like the newest delete and the write would be deleted everywhere.
func TestEngineMarkersKeepTheirOrigin(t *testing.T) {
	world := func() (*buckets, map[string]map[string]string) {
		b := newBuckets()
		for _, r := range []string{eu, us, ap} {
			b.put(r, "k", "first")
		}
		b.tick(time.Second)
		d := b.del(us, "k")
		b.tick(time.Second)
		b.put(ap, "k", "after the delete")
		b.tick(time.Second)
		m := b.del(eu, "k") // the engine's replica of d
		b.put(eu, "gone", "x")
		b.put(us, "gone", "x")
		b.del(eu, "gone")
		b.del(us, "gone") // every Region deleted or absent: no marker needs its record
		origin, _, _ := replication.OriginOf(us, d.VersionID, d.LastModified, "", nil)
		return b, map[string]map[string]string{m.VersionID: origin.Marks()}
	}
	plan := func(t *testing.T, s Store) map[string]Kind {
		t.Helper()
		got := map[string]Kind{}
		r, err := New(s, nopRepairer{}, testMembers, Options{DryRun: true, OnRepair: func(rep Repair, _ replication.Outcome) {
			if rep.Key == "k" {
				got[rep.Region] = rep.Kind
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		return got
	}

	t.Run("with records the write wins", func(t *testing.T) {
		b, marks := world()
		mb := &markedBuckets{buckets: b, marks: marks}
		got := plan(t, mb)
		if len(got) != 2 || got[eu] != StaleDeleteMarker || got[us] != StaleDeleteMarker {
			t.Errorf("plan %v, want the write copied over both delete markers", got)
		}
		if mb.markerReads != 2 {
			t.Errorf("%d marker records read, want 2 (the markers of k only)", mb.markerReads)
		}
	})
	t.Run("without records the engine's marker wins (the old behaviour)", func(t *testing.T) {
		b, _ := world()
		if got := plan(t, b); got[ap] != MissingDeleteMarker {
			t.Errorf("plan %v, want ap-southeast-2 deleted", got)
		}
	})
	t.Run("the engine's own keys are never planned, whatever Exclude says", func(t *testing.T) {
		b, marks := world()
		b.put(eu, ".mrap-state/markers/ab/cd", "record")
		var keys []string
		r, err := New(&markedBuckets{buckets: b, marks: marks}, nopRepairer{}, testMembers, Options{DryRun: true, OnRepair: func(rep Repair, _ replication.Outcome) {
			keys = append(keys, rep.Key)
		}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if replication.IsInternalKey(k) {
				t.Errorf("planned a repair of %q", k)
			}
		}
	})
}

type nopRepairer struct{}

func (nopRepairer) Repair(context.Context, replication.Repair) (replication.Outcome, error) {
	return replication.Outcome{}, nil
}
