package notifybridge_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/mrap-engine/mrap/events"
	"github.com/mrap-engine/mrap/shared/local/notifybridge"
)

// versitygw v1.8.0 sends s3:ObjectTagging:Put / :Delete from its webhook, without a version
// id: the bridge names the current version and emits "Object Tags Added" / "Object Tags
// Deleted" as AWS does (no sequencer, no size).
func TestTagChangesBecomeTagEnvelopes(t *testing.T) {
	rec := &recorder{}
	s, setHook := startRegion(t)
	bridge := notifybridge.New([]notifybridge.Member{{Region: "eu-west-1", Bucket: s.Bucket, Client: s.Client()}},
		rec.deliver, notifybridge.Options{AccountID: "123456789012"})
	bridge.Start()
	t.Cleanup(bridge.Stop)
	setHook(bridge)

	ctx := context.Background()
	c := s.Client()
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String("t k"), Body: strings.NewReader("x")})
	if err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, 1)
	if _, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String(s.Bucket), Key: aws.String("t k"),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("a"), Value: aws.String("1")}}}}); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, 2)
	if _, err := c.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: aws.String(s.Bucket), Key: aws.String("t k")}); err != nil {
		t.Fatal(err)
	}
	envs := rec.waitFor(t, 3)
	for i, want := range map[int]string{1: events.DetailTypeObjectTagsAdded, 2: events.DetailTypeObjectTagsDeleted} {
		var ev events.S3ObjectEvent
		if err := json.Unmarshal(envs[i], &ev); err != nil {
			t.Fatal(err)
		}
		if ev.DetailType != want || ev.Detail.Object.VersionID != aws.ToString(put.VersionId) || ev.Detail.Object.Sequencer != "" || ev.Detail.Object.Size != 0 {
			t.Errorf("envelope %d = %s, want %q naming version %s", i, envs[i], want, aws.ToString(put.VersionId))
		}
		changes, err := events.ParseObjectChanges(envs[i])
		if err != nil || len(changes) != 1 || changes[0].Kind != events.TagsChanged || changes[0].Key != "t k" {
			t.Errorf("ParseObjectChanges(%d) = %+v, %v", i, changes, err)
		}
	}
}
