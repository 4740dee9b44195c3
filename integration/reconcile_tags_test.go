package integration

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/mrap-engine/mrap/shared/reconcile"
)

// TestReconcileRepairsTagSetsBehindTheFlag: three versitygw Regions hold the same version of
// a key, one replica's tags changed with its event lost. A pass without the flag sees nothing;
// with CompareTags the origin copy's set is written back by version id (no new version).
func TestReconcileRepairsTagSetsBehindTheFlag(t *testing.T) {
	if testing.Short() {
		t.Skip("starts versitygw")
	}
	ctx := context.Background()
	rs := startReconcileRegions(t)
	origin := reconcileRegions[0]
	if _, err := rs.engine.Apply(ctx, rs.put(origin, "tagged/a b.txt", "body")); err != nil {
		t.Fatal(err)
	}
	stray := reconcileRegions[2]
	if _, err := rs.client(stray).PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String(rs.servers[stray].Bucket), Key: aws.String("tagged/a b.txt"),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("team"), Value: aws.String("stray")}}}}); err != nil {
		t.Fatal(err)
	}
	s, err := newReconcileRunner(t, rs, reconcile.Options{}).Run(ctx)
	if err != nil || s.Run.RepairsPlanned != 0 {
		t.Fatalf("without the flag: %+v, %v; want no repair (tags are not compared)", s.Run, err)
	}
	s, err = newReconcileRunner(t, rs, reconcile.Options{CompareTags: true}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Run.ByKind[string(reconcile.TagsDiffer)] != 1 || s.Run.RepairsDone != 1 || s.Run.RepairsFailed != 0 {
		t.Errorf("with the flag: %+v, want one tags-differ repair done", s.Run)
	}
	rs.assertIdentical(t)
	vs, err := rs.client(stray).ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(rs.servers[stray].Bucket), Prefix: aws.String("tagged/")})
	if err != nil || len(vs.Versions) != 1 {
		t.Errorf("%s holds %d versions (%v), want 1: a tag repair writes no version", stray, len(vs.Versions), err)
	}
}
