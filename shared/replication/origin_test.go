package replication

import (
	"testing"
	"time"
)

func TestCompare(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	// eu-west-1 lists "new" before "mid" before "old": version ids that sort against time.
	order := &OriginOrder{Region: "eu-west-1", Current: "new", Newest: []string{"new", "mid", "old"}}
	tests := []struct {
		name  string
		a, b  Origin
		order *OriginOrder
		want  int
	}{
		{name: "later origin time wins", a: Origin{Region: "us-east-1", VersionID: "a", Time: t0.Add(time.Second)}, b: Origin{Region: "us-west-2", VersionID: "z", Time: t0}, want: 1},
		{name: "earlier origin time loses whatever the Region", a: Origin{Region: "us-west-2", VersionID: "z", Time: t0}, b: Origin{Region: "us-east-1", VersionID: "a", Time: t0.Add(time.Nanosecond)}, want: -1},
		{name: "different Regions, same time: greater Region name wins", a: Origin{Region: "us-west-2", VersionID: "a", Time: t0}, b: Origin{Region: "us-east-1", VersionID: "z", Time: t0}, want: 1},
		{name: "sequencers of different Regions are ignored", a: Origin{Region: "eu-west-1", VersionID: "a", Time: t0, Sequencer: "FF"}, b: Origin{Region: "us-east-1", VersionID: "a", Time: t0, Sequencer: "00"}, want: -1},
		{name: "same Region: greater sequencer wins", a: Origin{Region: "eu-west-1", VersionID: "a", Time: t0, Sequencer: "0055AED6DCD90281F0"}, b: Origin{Region: "eu-west-1", VersionID: "z", Time: t0, Sequencer: "0055AED6DCD90281E5"}, want: 1},
		{name: "same Region: the sequencer outranks the origin time", a: Origin{Region: "eu-west-1", VersionID: "a", Time: t0, Sequencer: "0055AED6DCD90281F0"}, b: Origin{Region: "eu-west-1", VersionID: "z", Time: t0.Add(time.Second), Sequencer: "0055AED6DCD90281E5"}, want: 1},
		{name: "sequencers compare after left-padding", a: Origin{Region: "eu-west-1", VersionID: "a", Time: t0, Sequencer: "FF"}, b: Origin{Region: "eu-west-1", VersionID: "b", Time: t0, Sequencer: "0100"}, want: -1},
		{name: "same Region, one sequencer unknown: the origin's listing decides", a: Origin{Region: "eu-west-1", VersionID: "old", Time: t0, Sequencer: "FF"}, b: Origin{Region: "eu-west-1", VersionID: "mid", Time: t0}, order: order, want: -1},
		{name: "same Region, no sequencers: the one listed first wins", a: Origin{Region: "eu-west-1", VersionID: "mid", Time: t0}, b: Origin{Region: "eu-west-1", VersionID: "old", Time: t0}, order: order, want: 1},
		{name: "same Region: the listing outranks the origin time (multipart Last-Modified)", a: Origin{Region: "eu-west-1", VersionID: "mid", Time: t0}, b: Origin{Region: "eu-west-1", VersionID: "old", Time: t0.Add(time.Minute)}, order: order, want: 1},
		{name: "same Region: the origin's current version wins over one it no longer lists", a: Origin{Region: "eu-west-1", VersionID: "gone", Time: t0.Add(time.Second)}, b: Origin{Region: "eu-west-1", VersionID: "new", Time: t0}, order: order, want: -1},
		{name: "same Region, neither listed: the later origin time", a: Origin{Region: "eu-west-1", VersionID: "a", Time: t0.Add(time.Second)}, b: Origin{Region: "eu-west-1", VersionID: "z", Time: t0}, order: order, want: 1},
		{name: "same Region, no order at hand, same time: the version id, arbitrary but the same everywhere", a: Origin{Region: "us-east-1", VersionID: "a", Time: t0}, b: Origin{Region: "us-east-1", VersionID: "b", Time: t0}, want: -1},
		{name: "an order of another Region is not used", a: Origin{Region: "us-east-1", VersionID: "mid", Time: t0}, b: Origin{Region: "us-east-1", VersionID: "old", Time: t0}, order: order, want: -1},
		{name: "same write compares equal", a: Origin{Region: "us-east-1", VersionID: "v", Time: t0, Sequencer: "1"}, b: Origin{Region: "us-east-1", VersionID: "v", Time: t0}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CompareIn(tt.a, tt.b, tt.order); got != tt.want {
				t.Errorf("CompareIn(a, b) = %d, want %d", got, tt.want)
			}
			if got := CompareIn(tt.b, tt.a, tt.order); got != -tt.want {
				t.Errorf("CompareIn(b, a) = %d, want %d (the rule must be antisymmetric)", got, -tt.want)
			}
			if got := WinsIn(tt.a, tt.b, tt.order); got != (tt.want > 0) {
				t.Errorf("WinsIn(a, b) = %v, want %v", got, tt.want > 0)
			}
			if tt.order == nil && Compare(tt.a, tt.b) != tt.want {
				t.Errorf("Compare(a, b) = %d, want %d", Compare(tt.a, tt.b), tt.want)
			}
		})
	}
}

func TestNeedsOrder(t *testing.T) {
	tests := []struct {
		name string
		a, b Origin
		want bool
	}{
		{name: "same Region, a sequencer missing", a: Origin{Region: "eu-west-1", VersionID: "a", Sequencer: "1"}, b: Origin{Region: "eu-west-1", VersionID: "b"}, want: true},
		{name: "same Region, both sequencers known", a: Origin{Region: "eu-west-1", VersionID: "a", Sequencer: "1"}, b: Origin{Region: "eu-west-1", VersionID: "b", Sequencer: "2"}},
		{name: "different Regions", a: Origin{Region: "eu-west-1", VersionID: "a"}, b: Origin{Region: "us-east-1", VersionID: "b"}},
		{name: "the same write", a: Origin{Region: "eu-west-1", VersionID: "a"}, b: Origin{Region: "eu-west-1", VersionID: "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NeedsOrder(tt.a, tt.b); got != tt.want {
				t.Errorf("NeedsOrder = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOrderOf(t *testing.T) {
	o := OrderOf("eu-west-1", []Version{{VersionID: "z"}, {VersionID: "a", DeleteMarker: true}, {VersionID: "m"}})
	if o.Region != "eu-west-1" || o.Current != "z" || len(o.Newest) != 3 || o.Newest[1] != "a" {
		t.Errorf("OrderOf = %+v, want current z, then a, m", o)
	}
	if got := OrderOf("eu-west-1", nil); got.Current != "" || len(got.Newest) != 0 {
		t.Errorf("OrderOf(nothing) = %+v, want an empty order", got)
	}
}

func TestOriginOf(t *testing.T) {
	lm := time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.UTC)
	tests := []struct {
		name        string
		metadata    map[string]string
		want        Origin
		wantReplica bool
		wantErr     bool
	}{
		{name: "original: this Region, version id, Last-Modified to the second, sequencer",
			want: Origin{Region: "eu-west-1", VersionID: "v1", Time: lm.Truncate(time.Second), Sequencer: "seq"}},
		{name: "user metadata alone is an original", metadata: map[string]string{"owner": "me"},
			want: Origin{Region: "eu-west-1", VersionID: "v1", Time: lm.Truncate(time.Second), Sequencer: "seq"}},
		{name: "replica: the marks name the origin",
			metadata:    map[string]string{"mrap-origin-region": "us-east-1", "mrap-origin-version-id": "o1", "mrap-origin-time": "2025-12-31T23:59:59.123456789Z", "mrap-origin-sequencer": "00AB"},
			want:        Origin{Region: "us-east-1", VersionID: "o1", Time: time.Date(2025, 12, 31, 23, 59, 59, 123456789, time.UTC), Sequencer: "00AB"},
			wantReplica: true},
		{name: "marks match case-insensitively",
			metadata:    map[string]string{"Mrap-Origin-Region": "us-east-1", "Mrap-Origin-Version-Id": "o1", "Mrap-Origin-Time": "2025-12-31T23:59:59Z"},
			want:        Origin{Region: "us-east-1", VersionID: "o1", Time: time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC)},
			wantReplica: true},
		{name: "unparsable origin time is an error", metadata: map[string]string{"mrap-origin-region": "us-east-1", "mrap-origin-version-id": "o1", "mrap-origin-time": "yesterday"}, wantReplica: true, wantErr: true},
		{name: "origin region without version id is an error", metadata: map[string]string{"mrap-origin-region": "us-east-1"}, wantReplica: true, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, replica, err := OriginOf("eu-west-1", "v1", lm, "seq", tt.metadata)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if replica != tt.wantReplica {
				t.Errorf("replica = %v, want %v", replica, tt.wantReplica)
			}
			if !tt.wantErr && (got.Region != tt.want.Region || got.VersionID != tt.want.VersionID || !got.Time.Equal(tt.want.Time) || got.Sequencer != tt.want.Sequencer) {
				t.Errorf("origin = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestMarksRoundTrip(t *testing.T) {
	o := Origin{Region: "ap-southeast-2", VersionID: "v.9", Time: time.Date(2026, 5, 6, 7, 8, 9, 10, time.UTC), Sequencer: "0A"}
	got, replica, err := OriginOf("us-east-1", "other", time.Now(), "", o.Marks())
	if err != nil || !replica || got != o {
		t.Fatalf("OriginOf(Marks()) = %+v, %v, %v; want %+v, true, nil", got, replica, err, o)
	}
	if _, ok := (Origin{Region: "r", VersionID: "v"}).Marks()[MarkOriginSequencer]; ok {
		t.Error("Marks() wrote an empty sequencer mark")
	}
}
