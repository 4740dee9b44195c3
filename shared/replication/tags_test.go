package replication_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mrap-engine/mrap/events"
	. "github.com/mrap-engine/mrap/shared/replication"
)

// tagMem is memStore with a tag set per version id.
type tagMem struct {
	*memStore
	tmu  sync.Mutex
	tags map[string]map[string]string // version id -> tags
	puts []string                     // "region versionID"
	// wrote holds the digests of the sets PutReplicaTags wrote, by version id (TagRecorder).
	wrote map[string][]string
}

func (s *tagMem) PutReplicaTags(ctx context.Context, region, bucket, key, id string, tags map[string]string) error {
	s.tmu.Lock()
	s.wrote[id] = append(s.wrote[id], TagHash(tags))
	s.tmu.Unlock()
	return s.PutTags(ctx, region, bucket, key, id, tags)
}

func (s *tagMem) WroteTags(_ context.Context, _, _, _, id string, tags map[string]string) (bool, error) {
	s.tmu.Lock()
	defer s.tmu.Unlock()
	return slices.Contains(s.wrote[id], TagHash(tags)), nil
}

func newTagMem() *tagMem {
	return &tagMem{memStore: newMemStore("eu-west-1", "us-east-1", "ap-southeast-2"), tags: map[string]map[string]string{}, wrote: map[string][]string{}}
}

func (s *tagMem) Tags(_ context.Context, region, _, key, id string) (map[string]string, error) {
	if _, err := s.HeadVersion(context.Background(), region, "", key, id); err != nil {
		return nil, err
	}
	s.tmu.Lock()
	defer s.tmu.Unlock()
	out := maps.Clone(s.tags[id])
	if out == nil {
		out = map[string]string{}
	}
	return out, nil
}

func (s *tagMem) PutTags(_ context.Context, region, _, key, id string, tags map[string]string) error {
	if _, err := s.HeadVersion(context.Background(), region, "", key, id); err != nil {
		return err
	}
	s.tmu.Lock()
	defer s.tmu.Unlock()
	s.tags[id] = maps.Clone(tags)
	s.puts = append(s.puts, region+" "+id)
	return nil
}

func tagEvent(region, key string, v Version) events.ObjectChange {
	return events.ObjectChange{Region: region, Bucket: bucketOf(region), Key: key, RawKey: key, VersionID: v.VersionID, Kind: events.TagsChanged, Reason: events.ReasonPutObjectTagging}
}

// world: a version written in eu-west-1 and replicated to the two other Regions.
func tagWorld(t *testing.T) (*tagMem, *Engine, map[string]Version) {
	t.Helper()
	s := newTagMem()
	e := newEngine(t, s, Options{})
	v := s.put("eu-west-1", "k", "body", nil)
	if _, err := e.Apply(context.Background(), createdEvent("eu-west-1", "k", v)); err != nil {
		t.Fatal(err)
	}
	copies := map[string]Version{}
	for _, r := range []string{"eu-west-1", "us-east-1", "ap-southeast-2"} {
		copies[r] = s.current(r, "k")
	}
	return s, e, copies
}

func TestTagChangesReplicateToEveryCopyOfTheVersion(t *testing.T) {
	ctx := context.Background()
	red := map[string]string{"colour": "red"}
	tests := []struct {
		name   string
		setup  func(s *tagMem, copies map[string]Version) events.ObjectChange
		want   map[string]string // destination -> status:reason
		wantOn map[string]map[string]string
	}{
		{
			name: "a change on the origin goes to every copy, by the copy's own version id",
			setup: func(s *tagMem, c map[string]Version) events.ObjectChange {
				s.tags[c["eu-west-1"].VersionID] = red
				return tagEvent("eu-west-1", "k", c["eu-west-1"])
			},
			want:   map[string]string{"us-east-1": "replicated:", "ap-southeast-2": "replicated:"},
			wantOn: map[string]map[string]string{"us-east-1": red, "ap-southeast-2": red},
		},
		{
			name: "a change on a replica goes to the origin's copy only",
			setup: func(s *tagMem, c map[string]Version) events.ObjectChange {
				s.tags[c["us-east-1"].VersionID] = red
				return tagEvent("us-east-1", "k", c["us-east-1"])
			},
			want:   map[string]string{"eu-west-1": "replicated:", "ap-southeast-2": "skipped:" + SkipTagsViaOrigin},
			wantOn: map[string]map[string]string{"eu-west-1": red, "ap-southeast-2": {}},
		},
		{
			name: "a replica set equal to the origin's is skipped as equal",
			setup: func(s *tagMem, c map[string]Version) events.ObjectChange {
				for _, v := range c {
					s.tags[v.VersionID] = red
				}
				return tagEvent("us-east-1", "k", c["us-east-1"])
			},
			want: map[string]string{"eu-west-1": "skipped:" + SkipTagsEqual, "ap-southeast-2": "skipped:" + SkipTagsViaOrigin},
		},
		{
			name: "a late echo of the engine's write on a replica is not sent back to the origin",
			setup: func(s *tagMem, c map[string]Version) events.ObjectChange {
				_ = s.PutReplicaTags(context.Background(), "us-east-1", "", "k", c["us-east-1"].VersionID, red) // the engine's fan-out
				s.tags[c["eu-west-1"].VersionID] = map[string]string{"colour": "blue"}                          // the user's later change
				return tagEvent("us-east-1", "k", c["us-east-1"])                                               // the fan-out's echo, late
			},
			want:   map[string]string{"eu-west-1": "skipped:" + SkipTagsReplica, "ap-southeast-2": "skipped:" + SkipTagsReplica},
			wantOn: map[string]map[string]string{"eu-west-1": {"colour": "blue"}},
		},
		{
			name: "deleting the tags deletes them on the copies",
			setup: func(s *tagMem, c map[string]Version) events.ObjectChange {
				for _, v := range c {
					s.tags[v.VersionID] = red
				}
				delete(s.tags, c["eu-west-1"].VersionID)
				return tagEvent("eu-west-1", "k", c["eu-west-1"])
			},
			want:   map[string]string{"us-east-1": "replicated:", "ap-southeast-2": "replicated:"},
			wantOn: map[string]map[string]string{"us-east-1": {}, "ap-southeast-2": {}},
		},
		{
			name: "a Region whose current version is newer keeps its tags",
			setup: func(s *tagMem, c map[string]Version) events.ObjectChange {
				s.put("ap-southeast-2", "k", "newer", nil)
				s.tags[c["eu-west-1"].VersionID] = red
				return tagEvent("eu-west-1", "k", c["eu-west-1"])
			},
			want: map[string]string{"us-east-1": "replicated:", "ap-southeast-2": "skipped:" + SkipTagsNotCurrent},
		},
		{
			name: "a version no longer current anywhere is a recorded skip",
			setup: func(s *tagMem, c map[string]Version) events.ObjectChange {
				for _, r := range []string{"eu-west-1", "us-east-1", "ap-southeast-2"} {
					s.put(r, "k", "newer-"+r, nil)
				}
				s.tags[c["eu-west-1"].VersionID] = red
				return tagEvent("eu-west-1", "k", c["eu-west-1"])
			},
			want: map[string]string{"us-east-1": "skipped:" + SkipTagsNotCurrent, "ap-southeast-2": "skipped:" + SkipTagsNotCurrent},
		},
		{
			name: "a tagged version gone meanwhile is a skip",
			setup: func(s *tagMem, c map[string]Version) events.ObjectChange {
				ev := tagEvent("eu-west-1", "k", c["eu-west-1"])
				ev.VersionID = "gone"
				return ev
			},
			want: map[string]string{"us-east-1": "skipped:" + SkipSourceVersionGone, "ap-southeast-2": "skipped:" + SkipSourceVersionGone},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, e, copies := tagWorld(t)
			ev := tt.setup(s, copies)
			s.ResetCalls()
			res, err := e.Apply(ctx, ev)
			if err != nil {
				t.Fatal(err)
			}
			if got := statuses(res); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("outcomes %v, want %v", got, tt.want)
			}
			for r, want := range tt.wantOn {
				got, _ := s.Tags(ctx, r, "", "k", copies[r].VersionID)
				if !maps.Equal(got, want) {
					t.Errorf("tags of %s's copy = %v, want %v", r, got, want)
				}
			}
			for _, r := range []string{"us-east-1", "ap-southeast-2", "eu-west-1"} {
				for _, c := range s.Calls() {
					if strings.HasPrefix(c, "Copy "+r) {
						t.Errorf("a tag change wrote a new version in %s", r)
					}
				}
			}
		})
	}
}

// Concurrent changes on two copies converge on the origin's tag set once every event
// (including those of the engine's own writes) has been processed, whatever the order.
func TestConcurrentTagChangesConvergeOnTheOrigin(t *testing.T) {
	ctx := context.Background()
	s, e, c := tagWorld(t)
	s.tags[c["eu-west-1"].VersionID] = map[string]string{"who": "origin"}
	s.tags[c["us-east-1"].VersionID] = map[string]string{"who": "replica"}
	queue := []events.ObjectChange{tagEvent("us-east-1", "k", c["us-east-1"]), tagEvent("eu-west-1", "k", c["eu-west-1"])}
	for i := 0; len(queue) > 0 && i < 50; i++ {
		ev := queue[0]
		queue = queue[1:]
		res, err := e.Apply(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Destinations {
			if o.Status == Replicated { // the engine's tag write has its own event, delivered late
				queue = append(queue, tagEvent(o.Region, "k", c[o.Region]))
			}
		}
		if i == 1 { // the user changes the origin again while the first fan-out's echoes are queued
			s.tags[c["eu-west-1"].VersionID] = map[string]string{"who": "origin, later"}
			queue = append(queue, tagEvent("eu-west-1", "k", c["eu-west-1"]))
		}
	}
	if len(queue) > 0 {
		t.Fatalf("tag events still flowing after 50 steps: %v", queue)
	}
	want := map[string]string{"who": "origin, later"} // the last change wins: no echo undid it
	for r, v := range c {
		got, _ := s.Tags(ctx, r, "", "k", v.VersionID)
		if !maps.Equal(got, want) {
			t.Errorf("%s holds %v, origin %v", r, got, want)
		}
	}
}
