package fakestore

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/shared/replication"
)

func TestVersionIDsSortAgainstTime(t *testing.T) {
	tests := []struct {
		ids       IDs
		wantOrder func(older, newer string) bool
	}{
		{ids: Descending, wantOrder: func(older, newer string) bool { return newer < older }},
		{ids: Ascending, wantOrder: func(older, newer string) bool { return newer > older }},
	}
	for _, tt := range tests {
		t.Run(tt.ids.String(), func(t *testing.T) {
			s := New(Options{IDs: tt.ids}, "r")
			prev := s.Put("r", "k", "0", nil)
			for i := range 50 {
				v := s.Put("r", "k", string(rune('a'+i%26)), nil)
				if !tt.wantOrder(prev.VersionID, v.VersionID) {
					t.Fatalf("ids %q then %q", prev.VersionID, v.VersionID)
				}
				prev = v
			}
		})
	}
	t.Run("random ids are unique and not all in time order", func(t *testing.T) {
		s := New(Options{IDs: Random, Seed: 7}, "r")
		seen, against := map[string]bool{}, 0
		prev := s.Put("r", "k", "0", nil)
		for range 200 {
			v := s.Put("r", "k", "x", nil)
			if seen[v.VersionID] {
				t.Fatalf("id %q handed out twice", v.VersionID)
			}
			seen[v.VersionID] = true
			if v.VersionID < prev.VersionID {
				against++
			}
			prev = v
		}
		if against == 0 || against == 200 {
			t.Errorf("%d of 200 ids sort before their predecessor, want a mix", against)
		}
	})
}

func TestLastModifiedHasOneSecondPrecision(t *testing.T) {
	s := New(Options{Start: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), Step: 300 * time.Millisecond}, "r")
	a, b := s.Put("r", "k", "a", nil), s.Put("r", "k", "b", nil)
	if !a.LastModified.Equal(b.LastModified) || a.LastModified.Nanosecond() != 0 {
		t.Errorf("Last-Modified %s and %s, want one whole second", a.LastModified, b.LastModified)
	}
}

func TestListingsAndHeads(t *testing.T) {
	ctx := context.Background()
	s := New(Options{}, "r")
	v1 := s.Put("r", "k", "one", map[string]string{"owner": "me"})
	m := s.Delete("r", "k")
	s.Put("r", "k2", "other", nil)
	got, err := s.ListVersions(ctx, "r", "b", "k")
	if err != nil || len(got) != 2 || got[0].VersionID != m.VersionID || got[1].VersionID != v1.VersionID || got[1].Metadata != nil {
		t.Errorf("ListVersions = %+v, %v; want the marker then the object, newest first, without metadata", got, err)
	}
	p, _ := s.ListPage("r", "k", "", "", 2)
	if !p.Truncated || len(p.Entries) != 2 || !p.Entries[0].Latest || p.Entries[1].Latest || p.NextKeyMarker != "k" {
		t.Errorf("first page %+v, want k's two versions, truncated", p)
	}
	p, _ = s.ListPage("r", "k", p.NextKeyMarker, p.NextVersionIDMarker, 2)
	if p.Truncated || len(p.Entries) != 1 || p.Entries[0].Key != "k2" {
		t.Errorf("second page %+v, want k2 alone", p)
	}
	if cur, _ := s.Head(ctx, "r", "b", "k"); !cur.DeleteMarker || cur.VersionID != m.VersionID || cur.LastModified.IsZero() {
		t.Errorf("Head = %+v, want the delete marker with its id and time", cur)
	}
	if _, err := s.HeadVersion(ctx, "r", "b", "k", "nope"); !errors.Is(err, replication.ErrNotFound) {
		t.Errorf("HeadVersion of an unknown id: %v, want ErrNotFound", err)
	}
}

func TestHeadObjectAnswersLikeAWS(t *testing.T) {
	for _, bare := range []bool{false, true} {
		s := New(Options{BareMarkerHead: bare}, "r")
		s.Put("r", "k", "one", nil)
		m := s.Delete("r", "k")
		status, h := s.HeadObject("r", "k", "")
		if status != http.StatusNotFound || h.Get("x-amz-delete-marker") != "true" {
			t.Errorf("bare %v: HEAD of a deleted key = %d %v, want 404 with x-amz-delete-marker", bare, status, h)
		}
		if gotID := h.Get("x-amz-version-id"); (gotID == "") != bare || (!bare && gotID != m.VersionID) {
			t.Errorf("bare %v: x-amz-version-id %q", bare, gotID)
		}
		if (h.Get("Last-Modified") == "") != bare {
			t.Errorf("bare %v: Last-Modified %q", bare, h.Get("Last-Modified"))
		}
		if status, _ := s.HeadObject("r", "k", m.VersionID); status != http.StatusMethodNotAllowed {
			t.Errorf("HEAD of the marker's version id = %d, want 405", status)
		}
		if status, h := s.HeadObject("r", "absent", ""); status != http.StatusNotFound || h.Get("x-amz-delete-marker") != "" {
			t.Errorf("HEAD of an absent key = %d %v, want a bare 404", status, h)
		}
	}
}

func TestFailuresAndConditions(t *testing.T) {
	ctx := context.Background()
	s := New(Options{}, "a", "b")
	v := s.Put("a", "k", "x", nil)
	boom := errors.New("boom")
	s.FailOn("Copy", "b", boom)
	req := replication.CopyRequest{SourceRegion: "a", Key: "k", Source: v, DestRegion: "b"}
	if _, err := s.Copy(ctx, req); !errors.Is(err, boom) {
		t.Errorf("Copy = %v, want the injected error", err)
	}
	s.FailOn("Copy", "b", nil)
	c := &Conditional{Store: s}
	s.Put("b", "k", "there", nil)
	req.Condition = replication.Condition{IfAbsent: true}
	if _, err := c.Copy(ctx, req); !errors.Is(err, replication.ErrConditionFailed) {
		t.Errorf("If-None-Match over an object: %v, want ErrConditionFailed", err)
	}
	req.Condition = replication.ConditionOf(s.Current("b", "k"))
	if _, err := c.Copy(ctx, req); err != nil {
		t.Errorf("If-Match the current ETag: %v", err)
	}
	if got := s.Count("Copy"); got != 3 {
		t.Errorf("%d copies recorded, want 3", got)
	}
}
