package s3store

import (
	"context"
	"fmt"
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
