package s3store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"

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

// TagRecordPrefix is where the store records the tag sets the engine wrote on replica copies
// (replication.TagRecorder): .mrap-state/tags/<hex sha256 of the key>/<version id>, one object
// per copy whose user metadata mrap-tags lists the digests (replication.TagHash) of the last
// tagRecordDepth sets written, newest first, and whose body is the key (checked on read).
const TagRecordPrefix = replication.TagRecordPrefix

// tagRecordDepth is how many of the sets written last a record remembers.
const tagRecordDepth = 4

var _ replication.TagRecorder = (*Store)(nil)

// TagRecordKey returns the key of the tag record of one copy.
func TagRecordKey(key, versionID string) string {
	sum := sha256.Sum256([]byte(key))
	return TagRecordPrefix + hex.EncodeToString(sum[:]) + "/" + versionID
}

// tagRecord reads the digests recorded for one copy (none when it has no record).
func (s *Store) tagRecord(ctx context.Context, c S3API, bucket, key, versionID string) ([]string, error) {
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(TagRecordKey(key, versionID))})
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, classify("get tag record", err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(io.LimitReader(out.Body, 2048))
	if err != nil {
		return nil, fmt.Errorf("read tag record: %w", err)
	}
	if string(body) != key {
		return nil, nil // a hash collision: another key's record
	}
	v := out.Metadata["mrap-tags"]
	if v == "" {
		return nil, nil
	}
	return strings.Split(v, ","), nil
}

// WroteTags reports whether tags is one of the last sets PutReplicaTags wrote on the copy
// (one GetObject of its record).
func (s *Store) WroteTags(ctx context.Context, region, bucket, key, versionID string, tags map[string]string) (bool, error) {
	c, err := s.client(region)
	if err != nil {
		return false, err
	}
	hashes, err := s.tagRecord(ctx, c, bucket, key, versionID)
	if err != nil {
		return false, err
	}
	return slices.Contains(hashes, replication.TagHash(tags)), nil
}

// PutReplicaTags records tags on the copy's record (GetObject + PutObject) and then writes
// them (PutTags), so the tag event of this write finds it recorded.
func (s *Store) PutReplicaTags(ctx context.Context, region, bucket, key, versionID string, tags map[string]string) error {
	c, err := s.client(region)
	if err != nil {
		return err
	}
	hashes, err := s.tagRecord(ctx, c, bucket, key, versionID)
	if err != nil {
		return err
	}
	h := replication.TagHash(tags)
	hashes = append([]string{h}, slices.DeleteFunc(hashes, func(x string) bool { return x == h })...)
	hashes = hashes[:min(len(hashes), tagRecordDepth)]
	_, err = c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(TagRecordKey(key, versionID)),
		Body: bytes.NewReader([]byte(key)), ContentLength: aws.Int64(int64(len(key))),
		ContentType: aws.String("application/octet-stream"), Metadata: map[string]string{"mrap-tags": strings.Join(hashes, ",")},
	})
	if err != nil {
		return classify("record tags", err)
	}
	return s.PutTags(ctx, region, bucket, key, versionID, tags)
}
