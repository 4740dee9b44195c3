package replication_test

import (
	"context"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/events"

	. "github.com/mrap-engine/mrap/shared/replication"
)

// TestEngineMarkerKeepsTheDeleteOrigin is the chaos test's data-loss case, pure: a user deletes
// k at 10s (us-east-1), writes it at 11s in ap-southeast-2, and the engine replicates the
// delete to eu-west-1 at 12s. The engine's marker there carries the delete's origin (the
// marks its MarkerStore recorded), so the write beats it and its echo is no new delete.
func TestEngineMarkerKeepsTheDeleteOrigin(t *testing.T) {
	at := time.Date(2026, 11, 25, 19, 0, 0, 0, time.UTC)
	userDelete := Origin{Region: "us-east-1", VersionID: "D", Time: at.Add(10 * time.Second)}
	write := Decision{Action: ActionCopy, Origin: Origin{Region: "ap-southeast-2", VersionID: "W", Time: at.Add(11 * time.Second)}}
	engineMarker := Version{Exists: true, DeleteMarker: true, VersionID: "M", LastModified: at.Add(12 * time.Second), Metadata: userDelete.Marks()}

	t.Run("a write after the delete it replicates beats the engine's marker", func(t *testing.T) {
		if got := DecideDestination(write, "eu-west-1", engineMarker); got.Action != ActionCopy {
			t.Errorf("got %s %q, want copy", got.Action, got.Reason)
		}
	})
	t.Run("the engine's marker has the origin of the delete", func(t *testing.T) {
		if got := DestinationOrigin("eu-west-1", engineMarker); got != userDelete {
			t.Errorf("got %v, want %v", got, userDelete)
		}
	})
	t.Run("the echo of the engine's marker deletes nothing", func(t *testing.T) {
		echo := events.ObjectChange{Region: "eu-west-1", Bucket: "b", Key: "k", RawKey: "k", VersionID: "M", Kind: events.DeleteMarkerCreated}
		src := DecideSource(echo, SourceState{Current: engineMarker}, Policy{})
		if src.Action != ActionSkip || src.Reason != SkipReplica {
			t.Errorf("source decision %s %q, want skip %q", src.Action, src.Reason, SkipReplica)
		}
		w := Version{Exists: true, VersionID: "W", LastModified: at.Add(11 * time.Second)}
		if got := DecideDestination(src, "ap-southeast-2", w); got.Action == ActionDeleteMarker {
			t.Errorf("W deleted in its own Region: %+v", got)
		}
	})
	t.Run("a marker without a record is still an original", func(t *testing.T) {
		plain := engineMarker
		plain.Metadata = nil
		want := Origin{Region: "eu-west-1", VersionID: "M", Time: at.Add(12 * time.Second)}
		if got := DestinationOrigin("eu-west-1", plain); got != want {
			t.Errorf("got %v, want %v", got, want)
		}
	})
}

// markerWorld: k written everywhere at t0, deleted by a user in us-east-1 at t0+10s, written
// by a user in ap-southeast-2 at t0+11s; the delete is replicated at t0+12s, before the write.
func markerWorld(t *testing.T, s Store, mem *memStore) (e *Engine, write Version) {
	t.Helper()
	e = newEngine(t, s, Options{})
	v := mem.put("us-east-1", "k", "first", nil)
	if _, err := e.Apply(context.Background(), createdEvent("us-east-1", "k", v)); err != nil {
		t.Fatal(err)
	}
	mem.tick(10 * time.Second)
	d := mem.del("us-east-1", "k")
	mem.tick(time.Second)
	write = mem.put("ap-southeast-2", "k", "written after the delete", nil)
	mem.tick(time.Second)
	res, err := e.Apply(context.Background(), markerEvent("us-east-1", "k", d))
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(res); got["eu-west-1"] != "replicated:" || got["ap-southeast-2"] != "skipped:destination-newer" {
		t.Fatalf("delete replicated: %v, want eu-west-1 replicated and ap-southeast-2 destination-newer", got)
	}
	return e, write
}

func TestEngineMarkers(t *testing.T) {
	ctx := context.Background()
	all := []string{"eu-west-1", "us-east-1", "ap-southeast-2"}

	t.Run("the echo of an engine marker is skipped as a replica", func(t *testing.T) {
		mem := newMemStore(all...)
		e, _ := markerWorld(t, mem, mem)
		res, err := e.Apply(ctx, markerEvent("eu-west-1", "k", mem.current("eu-west-1", "k")))
		if err != nil {
			t.Fatal(err)
		}
		if got := statuses(res); got["us-east-1"] != "skipped:replica" || got["ap-southeast-2"] != "skipped:replica" {
			t.Errorf("echo: %v, want skipped:replica", got)
		}
		if cur := mem.current("ap-southeast-2", "k"); cur.DeleteMarker {
			t.Error("the echo deleted the write in its own Region")
		}
	})

	t.Run("a later user write beats the engine marker", func(t *testing.T) {
		mem := newMemStore(all...)
		e, w := markerWorld(t, mem, mem)
		if _, err := e.Apply(ctx, markerEvent("eu-west-1", "k", mem.current("eu-west-1", "k"))); err != nil {
			t.Fatal(err)
		}
		res, err := e.Apply(ctx, createdEvent("ap-southeast-2", "k", w))
		if err != nil {
			t.Fatal(err)
		}
		if got := statuses(res); got["eu-west-1"] != "replicated:" || got["us-east-1"] != "replicated:" {
			t.Errorf("write replicated: %v, want replicated over both delete markers", got)
		}
		for _, r := range all {
			if cur := mem.current(r, "k"); cur.DeleteMarker || mem.Body(r, cur.VersionID) != "written after the delete" {
				t.Errorf("%s serves %+v, want the write made after the delete", r, cur)
			}
		}
	})

	t.Run("a user's own later delete still wins", func(t *testing.T) {
		mem := newMemStore(all...)
		e, w := markerWorld(t, mem, mem)
		mem.tick(time.Second)
		d2 := mem.del("eu-west-1", "k") // over the engine's marker: a new, original marker
		res, err := e.Apply(ctx, markerEvent("eu-west-1", "k", d2))
		if err != nil {
			t.Fatal(err)
		}
		if got := statuses(res); got["ap-southeast-2"] != "replicated:" {
			t.Errorf("later delete: %v, want ap-southeast-2 replicated", got)
		}
		// The write's event, late: the write no longer is current where it was made.
		if res, err = e.Apply(ctx, createdEvent("ap-southeast-2", "k", w)); err != nil {
			t.Fatal(err)
		}
		if got := statuses(res)["eu-west-1"]; got != "skipped:superseded" {
			t.Errorf("late write event: %s, want skipped:superseded", got)
		}
		for _, r := range all {
			if !mem.current(r, "k").DeleteMarker {
				t.Errorf("%s serves an object, want the later delete", r)
			}
		}
	})

	t.Run("without a MarkerStore the engine marker is an original (the old behaviour)", func(t *testing.T) {
		mem := newMemStore(all...)
		e, _ := markerWorld(t, struct{ Store }{mem}, mem)
		res, err := e.Apply(ctx, markerEvent("eu-west-1", "k", mem.current("eu-west-1", "k")))
		if err != nil {
			t.Fatal(err)
		}
		if got := statuses(res)["ap-southeast-2"]; got != "replicated:" {
			t.Errorf("echo at ap-southeast-2: %s, want replicated (the write lost)", got)
		}
	})
}
