package s3servertest

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mrap-engine/mrap/shared/local/s3server"
)

// TestStartRegionsServesEachRegionAndStopsThem starts two Regions, checks each answers for
// its own bucket, and that both are stopped once the subtest that started them ends.
func TestStartRegionsServesEachRegionAndStopsThem(t *testing.T) {
	if testing.Short() {
		t.Skip("starts versitygw; skipped under -short")
	}
	var servers []*s3server.Server
	t.Run("start", func(t *testing.T) {
		servers = StartRegions(t, s3server.Options{}, "us-east-1", "eu-west-1")
		for i, want := range []string{"us-east-1", "eu-west-1"} {
			s := servers[i]
			if s.Region != want || s.Bucket != "mrap-"+want {
				t.Errorf("server %d: Region %q bucket %q, want %s", i, s.Region, s.Bucket, want)
			}
			if _, err := s.Client().HeadBucket(context.Background(), &s3.HeadBucketInput{Bucket: aws.String(s.Bucket)}); err != nil {
				t.Errorf("%s: %v", want, err)
			}
		}
	})
	if len(servers) != 2 {
		t.Fatalf("started %d servers", len(servers))
	}
	for _, s := range servers {
		if s.Running() {
			t.Errorf("%s still running after its test ended", s.Region)
		}
	}
}

// TestStartFailsTheTestWhenTheRegionCannotStart points at a missing binary: the helper must
// fail the test, not return a nil server.
func TestStartFailsTheTestWhenTheRegionCannotStart(t *testing.T) {
	if testing.Short() {
		t.Skip("the helper skips under -short")
	}
	rec := &recordingTB{TB: t}
	func() {
		defer func() { _ = recover() }() // Fatal of the recorder stops here
		Start(rec, s3server.Options{Region: "eu-west-1", Binary: "/nonexistent/versitygw"})
	}()
	if !rec.failed {
		t.Error("a Region that cannot start did not fail the test")
	}
}

// recordingTB records Fatal instead of ending the test.
type recordingTB struct {
	testing.TB
	failed bool
}

func (r *recordingTB) Fatal(args ...any) { r.failed = true; panic("fatal") }
