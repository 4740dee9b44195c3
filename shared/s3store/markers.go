package s3store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mrap-engine/mrap/shared/replication"
)

var _ replication.MarkerStore = (*Store)(nil)

// MarkerRecordPrefix is the key prefix of the records of the delete markers the engine wrote,
// inside the engine's internal prefix (never replicated, never reconciled). A lifecycle rule
// may expire them (older markers rarely matter: an expired record only makes its marker an
// original again).
const MarkerRecordPrefix = replication.MarkerRecordPrefix

// MarkerRecordKey returns the key of the record of delete marker versionID of key:
// .mrap-state/markers/<hex sha256 of key>/<versionID>. The record is an object whose user
// metadata holds the replica marks of the delete the marker replicates and whose body is the
// key itself (a key of up to 1024 bytes would not fit S3's 2 KB of user metadata once encoded),
// checked when read.
func MarkerRecordKey(key, versionID string) string {
	sum := sha256.Sum256([]byte(key))
	return MarkerRecordPrefix + hex.EncodeToString(sum[:]) + "/" + versionID
}

// PutReplicaDeleteMarker writes a delete marker over key while cond holds (as
// PutDeleteMarkerIf) and then records origin for it: one PutObject of the record, keyed by the
// version id DeleteObject returned. A DeleteObject that returns no version id (no marker
// written) records nothing. When the record cannot be written the marker stays an original
// one and the error says so (retryable: redelivery finds the destination deleted and skips).
func (s *Store) PutReplicaDeleteMarker(ctx context.Context, region, bucket, key string, origin replication.Origin, cond replication.Condition) error {
	c, err := s.client(region)
	if err != nil {
		return err
	}
	cond.IfAbsent = false
	cond = s.guardFor(region, cond)
	out, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), IfMatch: ifMatch(cond)})
	if s.refused(ctx, region, cond, err) {
		cond = replication.Condition{}
		out, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	}
	if conditionFailed(err, cond) {
		return conditionError("delete", cond, err)
	}
	if err != nil {
		return classify("delete", err)
	}
	id := aws.ToString(out.VersionId)
	if id == "" {
		return nil
	}
	_, err = c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(MarkerRecordKey(key, id)),
		Body: bytes.NewReader([]byte(key)), ContentLength: aws.Int64(int64(len(key))),
		ContentType: aws.String("application/octet-stream"), Metadata: origin.Marks(),
	})
	if err != nil {
		return classify(fmt.Sprintf("record delete marker %s (origin %s)", id, origin), err)
	}
	return nil
}

// MarkerMarks returns the replica marks recorded for delete marker versionID of key (one
// GetObject of its record), nil when there is no record (an original marker) or when the
// record names another key (a hash collision).
func (s *Store) MarkerMarks(ctx context.Context, region, bucket, key, versionID string) (map[string]string, error) {
	c, err := s.client(region)
	if err != nil {
		return nil, err
	}
	return s.markerMarks(ctx, c, bucket, key, versionID)
}

func (s *Store) markerMarks(ctx context.Context, c S3API, bucket, key, versionID string) (map[string]string, error) {
	if versionID == "" {
		return nil, nil
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(MarkerRecordKey(key, versionID))})
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, classify("read delete marker record", err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(io.LimitReader(out.Body, int64(len(key))+1))
	if err != nil {
		return nil, fmt.Errorf("read delete marker record %s: %w", versionID, err)
	}
	if string(body) != key || !replication.IsReplica(out.Metadata) {
		return nil, nil
	}
	return out.Metadata, nil
}

// withMarks fills a delete marker's Metadata with its recorded marks.
func (s *Store) withMarks(ctx context.Context, c S3API, bucket, key string, v replication.Version) (replication.Version, error) {
	if !v.Exists || !v.DeleteMarker {
		return v, nil
	}
	marks, err := s.markerMarks(ctx, c, bucket, key, v.VersionID)
	if err != nil {
		return replication.Version{}, err
	}
	v.Metadata = marks
	return v, nil
}
