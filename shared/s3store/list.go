package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mrap-engine/mrap/shared/reconcile"
)

var _ reconcile.Store = (*Store)(nil)

// ListVersionsPage returns one ListObjectVersions page of a member bucket for the reconciler:
// versions and delete markers merged in key order (S3 sends them in two lists), with the
// markers of the next page.
func (s *Store) ListVersionsPage(ctx context.Context, region, bucket string, q reconcile.Query) (reconcile.Page, error) {
	c, err := s.client(region)
	if err != nil {
		return reconcile.Page{}, err
	}
	in := &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)}
	if q.Prefix != "" {
		in.Prefix = aws.String(q.Prefix)
	}
	if q.KeyMarker != "" {
		in.KeyMarker = aws.String(q.KeyMarker)
		if q.VersionIDMarker != "" {
			in.VersionIdMarker = aws.String(q.VersionIDMarker)
		}
	}
	if q.MaxKeys > 0 {
		in.MaxKeys = aws.Int32(int32(min(q.MaxKeys, 1000)))
	}
	out, err := c.ListObjectVersions(ctx, in)
	if err != nil {
		return reconcile.Page{}, classify("list versions", err)
	}
	p := reconcile.Page{
		Entries:             make([]reconcile.Entry, 0, len(out.Versions)+len(out.DeleteMarkers)),
		Truncated:           aws.ToBool(out.IsTruncated),
		NextKeyMarker:       aws.ToString(out.NextKeyMarker),
		NextVersionIDMarker: aws.ToString(out.NextVersionIdMarker),
	}
	for _, v := range out.Versions {
		p.Entries = append(p.Entries, reconcile.Entry{Key: aws.ToString(v.Key), VersionID: aws.ToString(v.VersionId), Latest: aws.ToBool(v.IsLatest),
			LastModified: aws.ToTime(v.LastModified), ETag: aws.ToString(v.ETag), Size: aws.ToInt64(v.Size)})
	}
	for _, m := range out.DeleteMarkers {
		p.Entries = append(p.Entries, reconcile.Entry{Key: aws.ToString(m.Key), VersionID: aws.ToString(m.VersionId), Latest: aws.ToBool(m.IsLatest),
			DeleteMarker: true, LastModified: aws.ToTime(m.LastModified)})
	}
	sort.SliceStable(p.Entries, func(i, j int) bool {
		a, b := p.Entries[i], p.Entries[j]
		if a.Key != b.Key {
			return a.Key < b.Key
		}
		if a.Latest != b.Latest {
			return a.Latest // the current version first: a marker and the version it hides can share a second
		}
		return a.LastModified.After(b.LastModified)
	})
	if p.Truncated && p.NextKeyMarker == "" {
		return reconcile.Page{}, fmt.Errorf("list versions of %s in %s: truncated page without a next key marker", bucket, region)
	}
	return p, nil
}

// CheckpointAPI is the part of *s3.Client a CheckpointObject uses.
type CheckpointAPI interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

var _ reconcile.CheckpointStore = (*CheckpointObject)(nil)

// CheckpointObject keeps the reconciler's checkpoint in one S3 object.
type CheckpointObject struct {
	Client CheckpointAPI
	Bucket string
	Key    string
}

// Load reads the checkpoint object; a missing object is no checkpoint.
func (o *CheckpointObject) Load(ctx context.Context) ([]byte, error) {
	out, err := o.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(o.Bucket), Key: aws.String(o.Key)})
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, classify("get checkpoint s3://"+o.Bucket+"/"+o.Key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read checkpoint s3://%s/%s: %w", o.Bucket, o.Key, err)
	}
	return b, nil
}

// Save writes the checkpoint object.
func (o *CheckpointObject) Save(ctx context.Context, doc []byte) error {
	if o.Bucket == "" || o.Key == "" {
		return errors.New("checkpoint object: bucket and key required")
	}
	_, err := o.Client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(o.Bucket), Key: aws.String(o.Key),
		Body: bytes.NewReader(doc), ContentType: aws.String("application/json")})
	return classify("put checkpoint s3://"+o.Bucket+"/"+o.Key, err)
}
