package failover

import (
	"context"
	"testing"

	"github.com/mrap-engine/mrap/shared/docstore"
	"github.com/mrap-engine/mrap/shared/local/s3server"
	"github.com/mrap-engine/mrap/shared/local/s3server/s3servertest"
)

// TestRecordsRoundTripThroughAnS3Copy runs a decision whose record goes to a real S3 API
// (versitygw) through docstore.NewS3, then reads the merged state back from it.
func TestRecordsRoundTripThroughAnS3Copy(t *testing.T) {
	srv := s3servertest.Start(t, s3server.Options{Region: "us-east-1"})
	store, err := docstore.NewS3(srv.Client(), srv.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, aaPolicy(), false, euAlarm())
	r.engine.copies = StateCopies{"us-east-1": store}
	out, err := r.engine.Evaluate(context.Background(), schedule)
	if err != nil || !out.Submitted {
		t.Fatalf("decision: %+v, %v", out, err)
	}
	st, err := r.engine.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rec := st.Records["us-east-1"]
	if rec.Seq != 2 || !rec.LastChange.Equal(now) || rec.LastRoutes["eu-west-1"] != 0 || rec.LastDecision.Outcome != "changed" || st.LastChangeBy != "us-east-1" {
		t.Errorf("record read back from S3: %+v", rec)
	}
}
