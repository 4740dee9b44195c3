package replication_test

import (
	"context"
	"errors"
	"testing"
	"time"

	. "github.com/mrap-engine/mrap/shared/replication"
)

func TestRepair(t *testing.T) {
	type setup struct {
		s      *memStore
		origin Origin // the winning write
		srcID  string // version to copy
	}
	// Every case starts from one original written in eu-west-1 at t0.
	base := func() setup {
		s := newMemStore("eu-west-1", "us-east-1", "ap-southeast-2")
		v := s.put("eu-west-1", "k", "hello", map[string]string{"owner": "me"})
		return setup{s: s, origin: Origin{Region: "eu-west-1", VersionID: v.VersionID, Time: v.LastModified}, srcID: v.VersionID}
	}
	tests := []struct {
		name       string
		prepare    func(st *setup) Repair
		wantStatus Status
		wantReason string
		wantErr    bool
		check      func(t *testing.T, st setup)
	}{
		{name: "missing replica is copied from the origin with its marks",
			prepare: func(st *setup) Repair {
				return Repair{Key: "k", Action: ActionCopy, Origin: st.origin, SourceRegion: "eu-west-1", SourceVersionID: st.srcID, Region: "us-east-1"}
			},
			wantStatus: Replicated,
			check: func(t *testing.T, st setup) {
				got := st.s.current("us-east-1", "k")
				if o := DestinationOrigin("us-east-1", got); !o.Same(st.origin) || got.Metadata["owner"] != "me" {
					t.Errorf("us-east-1 holds %+v (origin %v), want a replica of %v with the user metadata", got, o, st.origin)
				}
			}},
		{name: "origin Region lost it: copied from a faithful replica keeping the original marks",
			prepare: func(st *setup) Repair {
				r := st.s.put("ap-southeast-2", "k", "hello", st.origin.Marks())
				st.s.tick(time.Minute)
				_ = st.s.DeleteVersion(context.Background(), "eu-west-1", "", "k", st.srcID)
				return Repair{Key: "k", Action: ActionCopy, Origin: st.origin, SourceRegion: "ap-southeast-2", SourceVersionID: r.VersionID, Region: "eu-west-1"}
			},
			wantStatus: Replicated,
			check: func(t *testing.T, st setup) {
				got := st.s.current("eu-west-1", "k")
				o := DestinationOrigin("eu-west-1", got)
				if !o.Same(st.origin) || !o.Time.Equal(st.origin.Time) {
					t.Errorf("eu-west-1 origin = %v, want the original %v (not re-marked as a new origin)", o, st.origin)
				}
			}},
		{name: "destination already holds the winner: duplicate",
			prepare: func(st *setup) Repair {
				st.s.put("us-east-1", "k", "hello", st.origin.Marks())
				return Repair{Key: "k", Action: ActionCopy, Origin: st.origin, SourceRegion: "eu-west-1", SourceVersionID: st.srcID, Region: "us-east-1"}
			},
			wantStatus: Skipped, wantReason: SkipDuplicate},
		{name: "destination wrote something newer since the plan: left alone",
			prepare: func(st *setup) Repair {
				st.s.tick(time.Minute)
				st.s.put("us-east-1", "k", "newer", nil)
				return Repair{Key: "k", Action: ActionCopy, Origin: st.origin, SourceRegion: "eu-west-1", SourceVersionID: st.srcID, Region: "us-east-1"}
			},
			wantStatus: Skipped, wantReason: SkipDestinationNewer},
		{name: "source version gone since the plan: recorded skip",
			prepare: func(st *setup) Repair {
				return Repair{Key: "k", Action: ActionCopy, Origin: st.origin, SourceRegion: "eu-west-1", SourceVersionID: "nope", Region: "us-east-1"}
			},
			wantStatus: Skipped, wantReason: SkipSourceVersionGone},
		{name: "source no longer carries the planned origin: skipped",
			prepare: func(st *setup) Repair {
				o := st.origin
				o.VersionID = "other"
				return Repair{Key: "k", Action: ActionCopy, Origin: o, SourceRegion: "eu-west-1", SourceVersionID: st.srcID, Region: "us-east-1"}
			},
			wantStatus: Skipped, wantReason: SkipSourceChanged},
		{name: "missing delete marker is written over an older object",
			prepare: func(st *setup) Repair {
				st.s.tick(time.Minute)
				m := st.s.del("eu-west-1", "k")
				st.s.put("us-east-1", "k", "hello", st.origin.Marks())
				return Repair{Key: "k", Action: ActionDeleteMarker, Origin: Origin{Region: "eu-west-1", VersionID: m.VersionID, Time: m.LastModified}, Region: "us-east-1"}
			},
			wantStatus: Replicated,
			check: func(t *testing.T, st setup) {
				if got := st.s.current("us-east-1", "k"); !got.DeleteMarker {
					t.Errorf("us-east-1 current = %+v, want a delete marker", got)
				}
			}},
		{name: "delete marker over an absent key is left alone",
			prepare: func(st *setup) Repair {
				return Repair{Key: "k", Action: ActionDeleteMarker, Origin: Origin{Region: "eu-west-1", VersionID: "m", Time: t2}, Region: "us-east-1"}
			},
			wantStatus: Skipped, wantReason: SkipDestinationAbsent},
		{name: "the engine's own objects (delete marker records) are never repaired",
			prepare: func(st *setup) Repair {
				return Repair{Key: ".mrap-state/markers/ab/m1", Action: ActionCopy, Origin: st.origin, SourceRegion: "eu-west-1", SourceVersionID: st.srcID, Region: "us-east-1"}
			},
			wantStatus: Skipped, wantReason: SkipInternal},
		{name: "unknown Region is a permanent error",
			prepare: func(st *setup) Repair {
				return Repair{Key: "k", Action: ActionCopy, Origin: st.origin, SourceRegion: "eu-west-1", SourceVersionID: st.srcID, Region: "sa-east-1"}
			},
			wantStatus: Failed, wantErr: true},
		{name: "copy onto its own source is a permanent error",
			prepare: func(st *setup) Repair {
				return Repair{Key: "k", Action: ActionCopy, Origin: st.origin, SourceRegion: "us-east-1", SourceVersionID: st.srcID, Region: "us-east-1"}
			},
			wantStatus: Failed, wantErr: true},
		{name: "unknown action is a permanent error",
			prepare: func(st *setup) Repair {
				return Repair{Key: "k", Action: ActionDeleteReplicas, Origin: st.origin, Region: "us-east-1"}
			},
			wantStatus: Failed, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := base()
			r := tt.prepare(&st)
			out, err := newEngine(t, st.s, Options{}).Repair(context.Background(), r)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !IsPermanent(err) {
				t.Errorf("err %v is not permanent", err)
			}
			if out.Status != tt.wantStatus || out.Reason != tt.wantReason {
				t.Errorf("outcome %s/%q, want %s/%q (err %v)", out.Status, out.Reason, tt.wantStatus, tt.wantReason, out.Err)
			}
			if tt.check != nil {
				tt.check(t, st)
			}
		})
	}
}

func TestRepairReportsStoreFailures(t *testing.T) {
	s := newMemStore("eu-west-1", "us-east-1", "ap-southeast-2")
	v := s.put("eu-west-1", "k", "x", nil)
	s.FailOn("Copy", "us-east-1", errors.New("slow down"))
	out, err := newEngine(t, s, Options{}).Repair(context.Background(), Repair{Key: "k", Action: ActionCopy,
		Origin: Origin{Region: "eu-west-1", VersionID: v.VersionID, Time: v.LastModified}, SourceRegion: "eu-west-1", SourceVersionID: v.VersionID, Region: "us-east-1"})
	if err == nil || out.Status != Failed || IsPermanent(err) {
		t.Fatalf("got %s, %v; want a retryable failure", out.Status, err)
	}
}
