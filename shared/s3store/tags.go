package s3store

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/mrap-engine/mrap/shared/replication"
)

// Tags returns the tag set of one version (GetObjectTagging with its version id); a version
// that is gone, or a delete marker (405), wraps replication.ErrNotFound.
func (s *Store) Tags(ctx context.Context, region, bucket, key, versionID string) (map[string]string, error) {
	c, err := s.client(region)
	if err != nil {
		return nil, err
	}
	out, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: aws.String(versionID)})
	if err != nil {
		if isNotFound(err) || statusOf(err) == http.StatusMethodNotAllowed {
			return nil, fmt.Errorf("get tags of %s/%q version %s: %w", bucket, key, versionID, replication.ErrNotFound)
		}
		return nil, classify("get object tagging", err)
	}
	tags := make(map[string]string, len(out.TagSet))
	for _, t := range out.TagSet {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return tags, nil
}

// PutTags replaces the tag set of one version (PutObjectTagging with its version id; an
// empty set is DeleteObjectTagging). No new version is written.
func (s *Store) PutTags(ctx context.Context, region, bucket, key, versionID string, tags map[string]string) error {
	c, err := s.client(region)
	if err != nil {
		return err
	}
	if len(tags) == 0 {
		_, err = c.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: aws.String(versionID)})
	} else {
		set := make([]types.Tag, 0, len(tags))
		for _, k := range slices.Sorted(maps.Keys(tags)) {
			set = append(set, types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
		}
		_, err = c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: aws.String(versionID), Tagging: &types.Tagging{TagSet: set}})
	}
	if isNotFound(err) || statusOf(err) == http.StatusMethodNotAllowed {
		return fmt.Errorf("put tags on %s/%q version %s: %w", bucket, key, versionID, replication.ErrNotFound)
	}
	return classify("put object tagging", err)
}
