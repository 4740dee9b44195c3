package reconcile

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/shared/replication"
)

var (
	t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	t1 = t0.Add(time.Second)
	t2 = t0.Add(2 * time.Second)
	t3 = t0.Add(3 * time.Second)
)

const (
	eu = "eu-west-1"
	us = "us-east-1"
	ap = "ap-southeast-2"
)

func absent(region string) State { return State{Region: region} }

// original is a user write in region, read (known).
func original(region, id string, at time.Time) State {
	return State{Region: region, Exists: true, VersionID: id, LastModified: at, Known: true,
		Origin: replication.Origin{Region: region, VersionID: id, Time: at.Truncate(time.Second)}}
}

// replica is a copy in region (version id id, written at at) of o.
func replica(region, id string, at time.Time, o State) State {
	return State{Region: region, Exists: true, VersionID: id, LastModified: at, Known: true, Replica: true, Origin: o.Origin}
}

// listed is an object version seen in a listing only (origin not read).
func listed(region, id string, at time.Time) State {
	return State{Region: region, Exists: true, VersionID: id, LastModified: at}
}

func deleteMarker(region, id string, at time.Time) State {
	return State{Region: region, Exists: true, DeleteMarker: true, VersionID: id, LastModified: at}
}

// describe renders a plan compactly: "kind region <- source/version" or "kind region".
func describe(rs []Repair) []string {
	var out []string
	for _, r := range rs {
		s := fmt.Sprintf("%s %s", r.Kind, r.Region)
		if r.Action == replication.ActionCopy {
			s += fmt.Sprintf(" <- %s/%s (origin %s/%s)", r.SourceRegion, r.SourceVersionID, r.Origin.Region, r.Origin.VersionID)
		} else {
			s += fmt.Sprintf(" (marker %s/%s)", r.Origin.Region, r.Origin.VersionID)
		}
		out = append(out, s)
	}
	return out
}

func TestPlan(t *testing.T) {
	a := original(eu, "a1", t1)
	tests := []struct {
		name   string
		states []State
		want   []string
	}{
		{name: "converged key: empty plan",
			states: []State{a, replica(us, "u1", t2, a), replica(ap, "p1", t2, a)}},
		{name: "written before deployment: missing replicas everywhere else",
			states: []State{a, absent(us), absent(ap)},
			want:   []string{"missing-replica us-east-1 <- eu-west-1/a1 (origin eu-west-1/a1)", "missing-replica ap-southeast-2 <- eu-west-1/a1 (origin eu-west-1/a1)"}},
		{name: "dropped event of an overwrite: stale replica",
			states: []State{original(eu, "a2", t3), replica(us, "u1", t2, a), replica(ap, "p2", t3, original(eu, "a2", t3))},
			want:   []string{"stale-replica us-east-1 <- eu-west-1/a2 (origin eu-west-1/a2)"}},
		{name: "concurrent writes: the loser's original and its replica are replaced",
			states: []State{original(eu, "a1", t1), original(us, "b1", t1), replica(ap, "p1", t2, original(eu, "a1", t1))},
			want: []string{"lost-conflict eu-west-1 <- us-east-1/b1 (origin us-east-1/b1)",
				"lost-conflict ap-southeast-2 <- us-east-1/b1 (origin us-east-1/b1)"}},
		{name: "origin Region lost the winner: copied from a faithful replica with the original origin",
			states: []State{original(eu, "a0", t0), replica(us, "u1", t2, a), absent(ap)},
			want: []string{"stale-replica eu-west-1 <- us-east-1/u1 (origin eu-west-1/a1)",
				"missing-replica ap-southeast-2 <- us-east-1/u1 (origin eu-west-1/a1)"}},
		{name: "the origin Region is preferred as the source over a replica",
			states: []State{replica(us, "u1", t2, a), a, absent(ap)},
			want:   []string{"missing-replica ap-southeast-2 <- eu-west-1/a1 (origin eu-west-1/a1)"}},
		{name: "delete while a Region was down: missing delete marker",
			states: []State{deleteMarker(eu, "m1", t3), replica(us, "u1", t2, a), deleteMarker(ap, "m2", t3)},
			want:   []string{"missing-delete-marker us-east-1 (marker eu-west-1/m1)"}},
		{name: "winning delete marker leaves Regions without the key alone",
			states: []State{deleteMarker(eu, "m1", t3), absent(us), absent(ap)}},
		{name: "object written after a delete comes back where the marker is current",
			states: []State{deleteMarker(eu, "m1", t1), original(us, "b2", t3), absent(ap)},
			want: []string{"stale-delete-marker eu-west-1 <- us-east-1/b2 (origin us-east-1/b2)",
				"missing-replica ap-southeast-2 <- us-east-1/b2 (origin us-east-1/b2)"}},
		{name: "object older than a known winner is repaired without reading it",
			states: []State{original(eu, "a2", t3), listed(us, "u1", t2), absent(ap)},
			want: []string{"stale-replica us-east-1 <- eu-west-1/a2 (origin eu-west-1/a2)",
				"missing-replica ap-southeast-2 <- eu-west-1/a2 (origin eu-west-1/a2)"}},
		{name: "no Region holds the key", states: []State{absent(eu), absent(us), absent(ap)}},
		{name: "only delete markers: nothing to do",
			states: []State{deleteMarker(eu, "m1", t1), deleteMarker(us, "m2", t2), absent(ap)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := KeyView{Key: "k", States: slices.Clone(tt.states)}
			got, err := Plan(v)
			if err != nil {
				t.Fatal(err)
			}
			if d := describe(got); !slices.Equal(d, tt.want) {
				t.Errorf("plan:\n  got  %s\n  want %s", strings.Join(d, "\n       "), strings.Join(tt.want, "\n       "))
			}
			again, _ := Plan(KeyView{Key: "k", States: slices.Clone(tt.states)})
			if !slices.Equal(describe(again), describe(got)) {
				t.Errorf("second plan of the same view differs: %v", describe(again))
			}
			for _, r := range got {
				if r.Key != "k" || r.Origin.Region == "" {
					t.Errorf("repair %+v lacks key or origin", r)
				}
			}
		})
	}
}

func TestUnresolved(t *testing.T) {
	tests := []struct {
		name   string
		states []State
		want   []int
	}{
		{name: "every listed object needs its origin", states: []State{listed(eu, "a", t1), listed(us, "b", t2), absent(ap)}, want: []int{0, 1}},
		{name: "delete markers never need a read", states: []State{deleteMarker(eu, "m", t1), absent(us), absent(ap)}},
		{name: "objects older than a newer delete marker lose unread", states: []State{deleteMarker(eu, "m", t3), listed(us, "b", t2), listed(ap, "c", t3.Add(500*time.Millisecond))}, want: []int{2}},
		{name: "known origins are not read again", states: []State{original(eu, "a", t1), listed(us, "b", t1), absent(ap)}, want: []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Unresolved(Resolve(KeyView{Key: "k", States: slices.Clone(tt.states)}))
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPlanRefusesUnreadOrigins(t *testing.T) {
	if _, err := Plan(KeyView{Key: "k", States: []State{listed(eu, "a", t1), absent(us)}}); err == nil {
		t.Fatal("planned a view whose winner is unknown")
	}
}
