package integration

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/mrap-engine/mrap/shared/local/runtime"
)

// TestTagChangesReplicateThroughTheBridge runs the local deployment (versitygw per Region,
// its webhook through the notification bridge into the replicator) and changes the tags of a
// replicated version: on a replica (it goes to the origin, which fans it out), then on the
// origin (a delete). Every Region ends with the same tag set on its one version: no tag change
// writes a version.
func TestTagChangesReplicateThroughTheBridge(t *testing.T) {
	if testing.Short() {
		t.Skip("starts versitygw")
	}
	ctx := context.Background()
	rt, err := runtime.Start(ctx, fastOptions(t.TempDir(), io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	ep := rt.Endpoints()
	clients := map[string]*s3.Client{}
	buckets := map[string]string{}
	for _, r := range ep.Regions {
		clients[r.Region] = s3.New(s3.Options{Region: r.Region, BaseEndpoint: aws.String(r.Endpoint), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(ep.AccessKeyID, ep.SecretAccessKey, "")})
		buckets[r.Region] = r.Bucket
	}
	origin, replica := ep.Regions[0].Region, ep.Regions[1].Region
	key := "tags/a b+c.txt"
	if _, err := clients[origin].PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(buckets[origin]), Key: aws.String(key), Body: strings.NewReader("v1")}); err != nil {
		t.Fatal(err)
	}
	state := func() map[string]string { // Region -> "versions=N tags=..."
		out := map[string]string{}
		for r, c := range clients {
			vs, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(buckets[r]), Prefix: aws.String(key)})
			if err != nil || len(vs.Versions) == 0 {
				continue
			}
			tg, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(buckets[r]), Key: aws.String(key)})
			if err != nil {
				continue
			}
			tags := map[string]string{}
			for _, t := range tg.TagSet {
				tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			out[r] = fmt.Sprintf("versions=%d tags=%v", len(vs.Versions)+len(vs.DeleteMarkers), tags)
		}
		return out
	}
	waitAll := func(want string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			got := state()
			all := len(got) == len(clients)
			for _, s := range got {
				all = all && s == want
			}
			if all {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("Regions did not converge on %q in 30s: %v", want, got)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitAll("versions=1 tags=map[]")

	if _, err := clients[replica].PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String(buckets[replica]), Key: aws.String(key),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("class"), Value: aws.String("internal")}, {Key: aws.String("year"), Value: aws.String("2026")}}}}); err != nil {
		t.Fatal(err)
	}
	waitAll("versions=1 tags=" + fmt.Sprint(map[string]string{"class": "internal", "year": "2026"}))

	if _, err := clients[origin].DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: aws.String(buckets[origin]), Key: aws.String(key)}); err != nil {
		t.Fatal(err)
	}
	waitAll("versions=1 tags=map[]")
}
