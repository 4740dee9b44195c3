package failover

import (
	"context"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/shared/local/s3server"
	"github.com/mrap-engine/mrap/shared/local/s3server/s3servertest"
	"github.com/mrap-engine/mrap/shared/routing"
)

func TestS3StateStoreRoundTripAgainstVersitygw(t *testing.T) {
	ctx := context.Background()
	s := s3servertest.Start(t, s3server.Options{Region: "us-east-1"})
	store := NewS3StateStore(s.Client(), s.Bucket, DefaultStateKey)
	got, err := store.Load(ctx)
	if err != nil {
		t.Fatalf("Load of a missing object: %v", err)
	}
	if !stateEqual(got, State{}) {
		t.Errorf("missing object gave %+v, want the zero state", got)
	}
	want := State{
		LastChange:    time.Date(2026, 11, 25, 17, 4, 41, 0, time.UTC),
		LastReason:    "active-active: change eu-west-1 100->0",
		Overrides:     routing.Overrides{Pinned: "us-east-1", Drained: []string{"eu-west-1"}},
		LastCommandID: "c1",
		LastCommandAt: time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC),
		HealthIssues:  map[string]HealthIssue{"eu-west-1": {EventARN: "arn:aws:health:eu-west-1::event/S3/X/Y", Open: true, UpdatedAt: time.Date(2026, 11, 25, 17, 9, 41, 0, time.UTC)}},
	}
	if err := store.Save(ctx, want); err != nil {
		t.Fatalf("Save: %v", err)
	}
	got, err = store.Load(ctx)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if !stateEqual(got, want) {
		t.Errorf("Load = %+v\nwant   %+v", got, want)
	}
	bad := NewS3StateStore(s.Client(), "no-such-bucket", DefaultStateKey)
	if _, err := bad.Load(ctx); err == nil {
		t.Error("Load from a missing bucket should fail, not look like a fresh start")
	}
}
