package replication

import (
	"testing"
	"time"
)

func TestCompare(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		a, b Origin
		want int
	}{
		{name: "later origin time wins", a: Origin{Region: "us-east-1", VersionID: "a", Time: t0.Add(time.Second)}, b: Origin{Region: "us-west-2", VersionID: "z", Time: t0}, want: 1},
		{name: "earlier origin time loses whatever the Region", a: Origin{Region: "us-west-2", VersionID: "z", Time: t0}, b: Origin{Region: "us-east-1", VersionID: "a", Time: t0.Add(time.Nanosecond)}, want: -1},
		{name: "same Region same time: greater sequencer wins", a: Origin{Region: "eu-west-1", VersionID: "a", Time: t0, Sequencer: "0055AED6DCD90281F0"}, b: Origin{Region: "eu-west-1", VersionID: "z", Time: t0, Sequencer: "0055AED6DCD90281E5"}, want: 1},
		{name: "sequencers compare after left-padding", a: Origin{Region: "eu-west-1", VersionID: "a", Time: t0, Sequencer: "FF"}, b: Origin{Region: "eu-west-1", VersionID: "b", Time: t0, Sequencer: "0100"}, want: -1},
		{name: "equal sequencers fall through to version id", a: Origin{Region: "eu-west-1", VersionID: "b", Time: t0, Sequencer: "10"}, b: Origin{Region: "eu-west-1", VersionID: "a", Time: t0, Sequencer: "0010"}, want: 1},
		{name: "one sequencer unknown: version id decides", a: Origin{Region: "eu-west-1", VersionID: "a", Time: t0, Sequencer: "FF"}, b: Origin{Region: "eu-west-1", VersionID: "b", Time: t0}, want: -1},
		{name: "sequencers of different Regions are ignored", a: Origin{Region: "eu-west-1", VersionID: "a", Time: t0, Sequencer: "FF"}, b: Origin{Region: "us-east-1", VersionID: "a", Time: t0, Sequencer: "00"}, want: -1},
		{name: "tie: greater Region name wins", a: Origin{Region: "us-west-2", VersionID: "a", Time: t0}, b: Origin{Region: "us-east-1", VersionID: "z", Time: t0}, want: 1},
		{name: "tie in Region: greater version id wins", a: Origin{Region: "us-east-1", VersionID: "a", Time: t0}, b: Origin{Region: "us-east-1", VersionID: "b", Time: t0}, want: -1},
		{name: "same write compares equal", a: Origin{Region: "us-east-1", VersionID: "v", Time: t0, Sequencer: "1"}, b: Origin{Region: "us-east-1", VersionID: "v", Time: t0, Sequencer: "1"}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Compare(tt.a, tt.b); got != tt.want {
				t.Errorf("Compare(a, b) = %d, want %d", got, tt.want)
			}
			if got := Compare(tt.b, tt.a); got != -tt.want {
				t.Errorf("Compare(b, a) = %d, want %d (the rule must be antisymmetric)", got, -tt.want)
			}
			if got := Wins(tt.a, tt.b); got != (tt.want > 0) {
				t.Errorf("Wins(a, b) = %v, want %v", got, tt.want > 0)
			}
		})
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
