package replication_test

import (
	"context"
	"testing"
	"time"

	. "github.com/mrap-engine/mrap/shared/replication"
)

// TestSameSecondWritesInOneRegion is issue 11's data loss: two writes of k in eu-west-1 in
// one second (Last-Modified has one-second precision), the first one replicated with its
// sequencer, the second one's event without a sequencer. Version ids do not sort by time
// (descending or random in the fake), so only eu-west-1's own order can tell the second write
// is the newer one; every Region must end on it.
func TestSameSecondWritesInOneRegion(t *testing.T) {
	tests := []struct {
		name         string
		firstSeq     string // sequencer of the first write's event
		secondSeq    string // sequencer of the second write's event
		wantListings int    // origin listings the engine needs
	}{
		{name: "second event without a sequencer: the origin's listing decides", firstSeq: "0062E99A88DC407001", wantListings: 1},
		{name: "no sequencer on either event: the origin's listing decides", wantListings: 1},
		{name: "both sequencers known: no listing", firstSeq: "0062E99A88DC407001", secondSeq: "0062E99A88DC407002"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newMemStore("eu-west-1", "us-east-1", "ap-southeast-2")
			e := newEngine(t, s, Options{})
			ctx := context.Background()
			v1 := s.put("eu-west-1", "k", "first", nil)
			ev1 := createdEvent("eu-west-1", "k", v1)
			ev1.Sequencer = tt.firstSeq
			if _, err := e.Apply(ctx, ev1); err != nil {
				t.Fatal(err)
			}
			s.tick(300 * time.Millisecond)
			v2 := s.put("eu-west-1", "k", "second", nil)
			if !v1.LastModified.Equal(v2.LastModified) {
				t.Fatalf("setup: the writes are not in one second: %s, %s", v1.LastModified, v2.LastModified)
			}
			s.ResetCalls()
			ev2 := createdEvent("eu-west-1", "k", v2)
			ev2.Sequencer = tt.secondSeq
			res, err := e.Apply(ctx, ev2)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range []string{"us-east-1", "ap-southeast-2"} {
				if got := s.body(r, "k"); got != "second" {
					t.Errorf("%s serves %q (outcomes %v), want the second write", r, got, statuses(res))
				}
			}
			if got := s.Count("ListVersions"); got != tt.wantListings {
				t.Errorf("%d listings of the origin, want %d (calls %v)", got, tt.wantListings, s.Calls())
			}
			// The first write's event, redelivered late, changes nothing.
			if _, err := e.Apply(ctx, ev1); err != nil {
				t.Fatal(err)
			}
			for _, r := range []string{"us-east-1", "ap-southeast-2"} {
				if got := s.body(r, "k"); got != "second" {
					t.Errorf("after the late first event %s serves %q, want the second write", r, got)
				}
			}
		})
	}
}

// TestSameSecondWriteAndDeleteInOneRegion: a write, a delete and a write of k in eu-west-1 in
// one second, events without sequencers, each applied in turn: every Region follows.
func TestSameSecondWriteAndDeleteInOneRegion(t *testing.T) {
	s := newMemStore("eu-west-1", "us-east-1", "ap-southeast-2")
	e := newEngine(t, s, Options{})
	ctx := context.Background()
	v1 := s.put("eu-west-1", "k", "first", nil)
	if _, err := e.Apply(ctx, createdEvent("eu-west-1", "k", v1)); err != nil {
		t.Fatal(err)
	}
	m := s.del("eu-west-1", "k")
	if _, err := e.Apply(ctx, markerEvent("eu-west-1", "k", m)); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"us-east-1", "ap-southeast-2"} {
		if cur := s.current(r, "k"); !cur.DeleteMarker {
			t.Errorf("%s serves %+v, want the same-second delete", r, cur)
		}
	}
	v3 := s.put("eu-west-1", "k", "third", nil)
	if _, err := e.Apply(ctx, createdEvent("eu-west-1", "k", v3)); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"us-east-1", "ap-southeast-2"} {
		if got := s.body(r, "k"); got != "third" {
			t.Errorf("%s serves %q, want the third write of the second", r, got)
		}
	}
}

// TestOriginOrderUnreadable: when the rule needs the origin's listing and it cannot be read,
// the destination fails retryably and keeps what it holds.
func TestOriginOrderUnreadable(t *testing.T) {
	s := newMemStore("eu-west-1", "us-east-1", "ap-southeast-2")
	e := newEngine(t, s, Options{})
	ctx := context.Background()
	v1 := s.put("eu-west-1", "k", "first", nil)
	if _, err := e.Apply(ctx, createdEvent("eu-west-1", "k", v1)); err != nil {
		t.Fatal(err)
	}
	v2 := s.put("eu-west-1", "k", "second", nil)
	s.FailOn("ListVersions", "eu-west-1", errSlowDown)
	res, err := e.Apply(ctx, createdEvent("eu-west-1", "k", v2))
	if err == nil || IsPermanent(err) {
		t.Fatalf("err = %v, want a retryable failure", err)
	}
	if got := statuses(res); got["us-east-1"] != "failed:" {
		t.Errorf("outcomes %v, want failed", got)
	}
	if got := s.body("us-east-1", "k"); got != "first" {
		t.Errorf("us-east-1 serves %q, want what it held", got)
	}
	s.FailOn("ListVersions", "eu-west-1", nil)
	if _, err := e.Apply(ctx, createdEvent("eu-west-1", "k", v2)); err != nil {
		t.Fatal(err)
	}
	if got := s.body("us-east-1", "k"); got != "second" {
		t.Errorf("after the retry us-east-1 serves %q, want the second write", got)
	}
}

var errSlowDown = &slowDown{}

type slowDown struct{}

func (*slowDown) Error() string { return "SlowDown: please reduce your request rate" }
