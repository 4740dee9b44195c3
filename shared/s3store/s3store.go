// Package s3store adapts Amazon S3 (and S3-compatible stores such as versitygw) to
// replication.Store: reading current versions and delete markers, copying one version to
// another Region's bucket with its metadata, tags and checksums, writing delete markers and
// deleting replica versions.
//
// Two copy paths:
//   - Options.SameService (every member on AWS S3): server-side CopyObject of the exact source
//     version (versionId in x-amz-copy-source, MetadataDirective REPLACE to add the marks,
//     TaggingDirective COPY); above MultipartThreshold a multipart upload of UploadPartCopy
//     parts in parallel (at most Concurrency at once), aborted on failure. No data passes
//     through the function.
//   - otherwise (different endpoints: local Regions, other S3-compatible stores, another
//     partition): GetObject of the version streamed into PutObject, or above
//     MultipartThreshold into a multipart upload with Concurrency buffers of PartSize bytes
//     (bounded memory). Tags are read with GetObjectTagging only when the GET says the version
//     has any. A single-part PUT carries the source's full-object checksum so the destination
//     verifies the bytes end to end.
//
// Requests per replicated object (the engine reads the source and each destination first):
//   - server-side (AWS, TrustNotFound): HEAD source, HEAD destination, CopyObject = 3; above
//     the threshold HEAD, HEAD, GetObjectTagging, CreateMultipartUpload, N x UploadPartCopy,
//     CompleteMultipartUpload.
//   - streaming up to the threshold: the source is read by one GET that also feeds the PUT
//     (replication.StreamingStore), so GET source, read destination, PUT = 3 (+1
//     GetObjectTagging when the object has tags). Reading the destination is one HEAD with
//     TrustNotFound, else one ListObjectVersions for an absent key or delete marker and
//     ListObjectVersions + HEAD for an object (its marks decide duplicates and conflicts).
//     Above the threshold: HEAD source, read destination, GET, CreateMultipartUpload, N x
//     UploadPart, CompleteMultipartUpload.
//
// Delete markers the engine writes (replication.MarkerStore): a delete marker carries no
// metadata, so right after the DeleteObject that wrote it the store records its origin in the
// same bucket: an object .mrap-state/markers/<hex sha256 of the key>/<marker version id>
// (MarkerRecordKey) whose user metadata holds the replica marks and whose body is the key
// (checked on read against hash collisions). Head and HeadVersion read the record of a
// delete marker they return (one GetObject; a 404 means an original marker) and hand its marks
// back in Version.Metadata. Extra requests, on delete-marker paths only: +1 PutObject per
// delete marker replicated, +1 GetObject per delete marker read (the source of a "Delete
// Marker Created" event, a destination whose current version is a delete marker, the
// verification read after an unguarded delete). If the process stops between the
// DeleteObject and the record, the marker stays an original one (the behaviour without
// records). The record's own "Object Created" event is skipped by the engine (internal
// prefix). Records are never deleted by the engine: a lifecycle rule on .mrap-state/markers/
// expires them.
//
// Conditional writes (replication.ConditionalStore): the engine conditions each write on the
// destination state it read, and the store sends it as If-Match / If-None-Match: * on
// PutObject, CopyObject and CompleteMultipartUpload, and If-Match on DeleteObject. 412
// PreconditionFailed, 409 ConditionalRequestConflict and, for If-Match, 404 NoSuchKey come
// back wrapping replication.ErrConditionFailed. No extra request in the common case. What
// versitygw v1.8.0 does with them (read from its source, pinned by the versitygw tests):
// PutObject and CompleteMultipartUpload check both headers under a per-key publish lock
// (atomic); DeleteObject checks If-Match outside that lock (not atomic: the engine verifies);
// CopyObject ignores the destination conditions (only x-amz-copy-source-if-*), but the
// store never uses CopyObject between different endpoints; a current delete marker keeps the
// hidden object's ETag on the key, so If-None-Match over it fails with 412 where AWS
// succeeds (the engine then writes unconditionally and verifies).
package s3store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/mrap-engine/mrap/shared/replication"
)

// S3API is the subset of *s3.Client the store calls.
type S3API interface {
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	GetObjectTagging(ctx context.Context, in *s3.GetObjectTaggingInput, optFns ...func(*s3.Options)) (*s3.GetObjectTaggingOutput, error)
	PutObjectTagging(ctx context.Context, in *s3.PutObjectTaggingInput, optFns ...func(*s3.Options)) (*s3.PutObjectTaggingOutput, error)
	DeleteObjectTagging(ctx context.Context, in *s3.DeleteObjectTaggingInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectTaggingOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	CopyObject(ctx context.Context, in *s3.CopyObjectInput, optFns ...func(*s3.Options)) (*s3.CopyObjectOutput, error)
	CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, optFns ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error)
	UploadPart(ctx context.Context, in *s3.UploadPartInput, optFns ...func(*s3.Options)) (*s3.UploadPartOutput, error)
	UploadPartCopy(ctx context.Context, in *s3.UploadPartCopyInput, optFns ...func(*s3.Options)) (*s3.UploadPartCopyOutput, error)
	CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, optFns ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error)
	AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, optFns ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
	ListObjectVersions(ctx context.Context, in *s3.ListObjectVersionsInput, optFns ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error)
}

var _ S3API = (*s3.Client)(nil)
var _ replication.StreamingStore = (*Store)(nil)
var _ replication.ConditionalStore = (*Store)(nil)
var _ replication.TagStore = (*Store)(nil)

// Defaults of Options.
const (
	MiB                              = 1 << 20
	GiB                              = 1 << 30
	DefaultServerSideThreshold int64 = 5 * GiB  // CopyObject's limit
	DefaultStreamingThreshold  int64 = 64 * MiB // above this a streamed copy goes multipart
	DefaultPartSize            int64 = 64 * MiB
	DefaultConcurrency               = 8
	minPartSize                int64 = 5 * MiB // S3's minimum for every part but the last
	maxParts                         = 10000
)

// Options configures a Store.
type Options struct {
	// SameService: every member is one S3 service (AWS), so copies are server-side
	// (CopyObject, UploadPartCopy). False: copies stream through the function.
	SameService bool
	// MultipartThreshold is the size above which copies go multipart (default 5 GiB
	// server-side, 64 MiB streaming).
	MultipartThreshold int64
	// PartSize is the bytes per part (default 64 MiB; raised when an object would need more
	// than 10,000 parts).
	PartSize int64
	// Concurrency is the parts in flight per object (default 8). Streamed multipart copies
	// share Concurrency+1 part buffers per Store, so they hold at most
	// (Concurrency+1) x PartSize bytes however many copies run at once.
	Concurrency int
	// StorageClass of replicas; empty keeps the destination bucket's default.
	StorageClass string
	// KMSKeys maps a destination Region to the SSE-KMS key of its replicas; Regions left out
	// use the destination bucket's default encryption.
	KMSKeys map[string]string
	// TrustNotFound reads a key's current version with one HEAD and takes a 404 without
	// x-amz-delete-marker as "no such key". AWS S3 sends that header with the 404 of a key
	// whose current version is a delete marker, so set it there. Left false (the default, for
	// stores that omit the header, such as versitygw v1.8.0), the current version is read with
	// ListObjectVersions, plus a HEAD when it is an object: one request for an absent key or
	// a delete marker, two for an object.
	TrustNotFound bool
	// TrailingChecksums lets a streamed single PUT of a source whose checksum is composite
	// (uploaded in parts) carry the same algorithm, computed by the SDK and sent as a trailer.
	// The SDK sends trailers over HTTPS only: set it when every endpoint is HTTPS (AWS).
	// Without it such replicas get the destination's default checksum. Full-object
	// checksums are always sent whole.
	TrailingChecksums bool
	// UnguardedWrites: the stores do not support write conditions (If-Match, If-None-Match),
	// or do not check them atomically: writes go without them and the engine verifies every
	// write by reading the destination again (MRAP_UNGUARDED_WRITES). Leave false for AWS and
	// versitygw v1.8.0: a store that refuses a condition (501 NotImplemented) is switched to
	// this path per Region at its first refusal anyway.
	UnguardedWrites bool
	// Logger receives the one warning per Region that switches it to unguarded writes
	// (default: discard).
	Logger *slog.Logger
}

// Store implements replication.Store over one S3 client per Region.
type Store struct {
	clients map[string]S3API
	opts    Options
	// guardMu guards refusedRegions: Regions whose store refused a write condition.
	guardMu        sync.Mutex
	refusedRegions map[string]bool
	// buffers holds the part buffers of streamed multipart copies, shared by every copy of
	// this Store: at most Concurrency+1 buffers of PartSize bytes exist at once.
	buffers chan []byte
}

// New returns a Store over clients (one per member Region). optFns adjust opts.
func New(clients map[string]S3API, opts Options, optFns ...func(*Options)) (*Store, error) {
	for _, fn := range optFns {
		fn(&opts)
	}
	if len(clients) == 0 {
		return nil, errors.New("s3store: no clients")
	}
	for r, c := range clients {
		if c == nil {
			return nil, fmt.Errorf("s3store: nil client for %s", r)
		}
	}
	if opts.MultipartThreshold <= 0 {
		opts.MultipartThreshold = DefaultStreamingThreshold
		if opts.SameService {
			opts.MultipartThreshold = DefaultServerSideThreshold
		}
	}
	if opts.SameService && opts.MultipartThreshold > DefaultServerSideThreshold {
		return nil, fmt.Errorf("s3store: multipart threshold %d is above CopyObject's 5 GiB limit", opts.MultipartThreshold)
	}
	if opts.PartSize <= 0 {
		opts.PartSize = DefaultPartSize
	}
	if opts.PartSize < minPartSize {
		return nil, fmt.Errorf("s3store: part size %d is below S3's 5 MiB minimum", opts.PartSize)
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	buffers := make(chan []byte, opts.Concurrency+1)
	for range opts.Concurrency + 1 {
		buffers <- nil // allocated on first use
	}
	if opts.Logger == nil {
		opts.Logger = discardLogger()
	}
	return &Store{clients: clients, opts: opts, buffers: buffers, refusedRegions: map[string]bool{}}, nil
}

func (s *Store) client(region string) (S3API, error) {
	c, ok := s.clients[region]
	if !ok {
		return nil, replication.Permanent(fmt.Errorf("no S3 client for Region %s", region))
	}
	return c, nil
}

// Head returns the current version of key: Exists false when the key has none, DeleteMarker
// when its current version is a delete marker. With TrustNotFound it is one HEAD (a 404
// carries the delete marker headers on AWS). Otherwise it lists the key's versions first,
// which tells an absent key and a delete marker apart in one request, and HEADs only a
// current object, for its metadata and marks.
func (s *Store) Head(ctx context.Context, region, bucket, key string) (replication.Version, error) {
	c, err := s.client(region)
	if err != nil {
		return replication.Version{}, err
	}
	if !s.opts.TrustNotFound {
		versions, err := s.listVersions(ctx, c, bucket, key, 1)
		if err != nil {
			return replication.Version{}, err
		}
		i := slices.IndexFunc(versions, func(v listed) bool { return v.current })
		if i < 0 {
			return replication.Version{}, nil
		}
		if versions[i].DeleteMarker {
			return s.withMarks(ctx, c, bucket, key, versions[i].Version)
		}
	}
	out, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err == nil {
		return headVersion(out), nil
	}
	if !isNotFound(err) {
		return replication.Version{}, classify("head", err)
	}
	if v, marker := deleteMarkerFromError(err); marker {
		// AWS documents only x-amz-delete-marker on this 404: a missing id comes from a
		// listing (never an absent key); so does a missing time, unless the marker's record
		// gives its origin (an original marker is never taken as time zero).
		if v.VersionID == "" {
			if v, err = s.currentFromListing(ctx, c, bucket, key); err != nil {
				return replication.Version{}, err
			}
		}
		if v, err = s.withMarks(ctx, c, bucket, key, v); err != nil || !v.LastModified.IsZero() || replication.IsReplica(v.Metadata) {
			return v, err
		}
		listed, err := s.currentFromListing(ctx, c, bucket, key)
		if err != nil {
			return replication.Version{}, err
		}
		if listed.VersionID != v.VersionID {
			return replication.Version{}, fmt.Errorf("head %s/%q: delete marker %s by the HEAD, %s by the listing: current version changed while being read", bucket, key, v.VersionID, listed.VersionID)
		}
		v.LastModified = listed.LastModified
		return v, nil
	}
	if !s.opts.TrustNotFound {
		// Listed as an object, gone by the HEAD: the key changed meanwhile; a retry reads it again.
		return replication.Version{}, fmt.Errorf("head %s/%q: current version changed while being read", bucket, key)
	}
	return replication.Version{}, nil
}

// HeadVersion returns one version of key or an error wrapping replication.ErrNotFound.
func (s *Store) HeadVersion(ctx context.Context, region, bucket, key, versionID string) (replication.Version, error) {
	c, err := s.client(region)
	if err != nil {
		return replication.Version{}, err
	}
	out, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: aws.String(versionID)})
	if err != nil {
		if code := statusOf(err); code == http.StatusMethodNotAllowed {
			// S3 answers 405 to a HEAD of a delete marker's version id.
			return s.withMarks(ctx, c, bucket, key, replication.Version{Exists: true, DeleteMarker: true, VersionID: versionID})
		}
		// AWS answers NoSuchVersion (404) or InvalidArgument (400, malformed id); versitygw a
		// bare 400 BadRequest.
		if isNotFound(err) || errorCode(err) == "InvalidArgument" || errorCode(err) == "BadRequest" {
			return replication.Version{}, fmt.Errorf("head %s/%q version %s: %w", bucket, key, versionID, replication.ErrNotFound)
		}
		return replication.Version{}, classify("head version", err)
	}
	return headVersion(out), nil
}

// PutDeleteMarker deletes key without a version id.
func (s *Store) PutDeleteMarker(ctx context.Context, region, bucket, key string) error {
	return s.PutDeleteMarkerIf(ctx, region, bucket, key, replication.Condition{})
}

// PutDeleteMarkerIf deletes key without a version id while cond holds: DeleteObject with
// If-Match (S3 has no If-None-Match on deletes, so cond.IfAbsent is not sent).
func (s *Store) PutDeleteMarkerIf(ctx context.Context, region, bucket, key string, cond replication.Condition) error {
	c, err := s.client(region)
	if err != nil {
		return err
	}
	cond.IfAbsent = false
	cond = s.guardFor(region, cond)
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), IfMatch: ifMatch(cond)})
	if s.refused(ctx, region, cond, err) {
		_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		return classify("delete", err)
	}
	if conditionFailed(err, cond) {
		return conditionError("delete", cond, err)
	}
	return classify("delete", err)
}

// Atomic reports whether a write's condition is checked atomically with it. Copies: yes, unless
// Options.UnguardedWrites (AWS checks If-Match and If-None-Match on PutObject, CopyObject and
// CompleteMultipartUpload; versitygw v1.8.0 on PutObject and CompleteMultipartUpload, under its
// per-key publish lock). Delete markers: on AWS only (versitygw v1.8.0 evaluates If-Match on
// DeleteObject outside that lock).
func (s *Store) Atomic(region string, deleteMarker bool, _ int64) bool {
	if s.unguarded(region) {
		return false
	}
	if deleteMarker {
		return s.opts.SameService
	}
	return true
}

// DeleteVersion permanently deletes one version of key.
func (s *Store) DeleteVersion(ctx context.Context, region, bucket, key, versionID string) error {
	c, err := s.client(region)
	if err != nil {
		return err
	}
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: aws.String(versionID)})
	if isNotFound(err) {
		return fmt.Errorf("delete %s/%q version %s: %w", bucket, key, versionID, replication.ErrNotFound)
	}
	return classify("delete version", err)
}

// ListVersions returns every version and delete marker of exactly key, newest first.
func (s *Store) ListVersions(ctx context.Context, region, bucket, key string) ([]replication.Version, error) {
	c, err := s.client(region)
	if err != nil {
		return nil, err
	}
	vs, err := s.listVersions(ctx, c, bucket, key, 0)
	if err != nil {
		return nil, err
	}
	out := make([]replication.Version, len(vs))
	for i, v := range vs {
		out[i] = v.Version
	}
	return out, nil
}

type listed struct {
	replication.Version
	current bool
}

// listVersions lists the versions of exactly key (ListObjectVersions with Prefix=key lists
// longer keys too; the exact key sorts first). limit > 0 stops after the current version.
func (s *Store) listVersions(ctx context.Context, c S3API, bucket, key string, limit int) ([]listed, error) {
	var out []listed
	in := &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(key)}
	if limit > 0 {
		in.MaxKeys = aws.Int32(100)
	}
	for {
		page, err := c.ListObjectVersions(ctx, in)
		if err != nil {
			if isNotFound(err) && errorCode(err) != "NoSuchBucket" {
				return out, nil
			}
			return nil, classify("list versions", err)
		}
		beyond := false
		for _, v := range page.Versions {
			if aws.ToString(v.Key) != key {
				beyond = true
				continue
			}
			out = append(out, listed{Version: replication.Version{Exists: true, VersionID: aws.ToString(v.VersionId), LastModified: aws.ToTime(v.LastModified), Size: aws.ToInt64(v.Size), ETag: aws.ToString(v.ETag), StorageClass: string(v.StorageClass)}, current: aws.ToBool(v.IsLatest)})
		}
		for _, m := range page.DeleteMarkers {
			if aws.ToString(m.Key) != key {
				beyond = true
				continue
			}
			out = append(out, listed{Version: replication.Version{Exists: true, DeleteMarker: true, VersionID: aws.ToString(m.VersionId), LastModified: aws.ToTime(m.LastModified)}, current: aws.ToBool(m.IsLatest)})
		}
		if beyond || !aws.ToBool(page.IsTruncated) {
			break
		}
		if limit > 0 {
			for _, v := range out {
				if v.current {
					return out, nil
				}
			}
		}
		in.KeyMarker, in.VersionIdMarker = page.NextKeyMarker, page.NextVersionIdMarker
	}
	sortNewestFirst(out)
	return out, nil
}

func sortNewestFirst(vs []listed) {
	// Versions and delete markers come in two lists; merge by time, newest first (stable),
	// the current version first whatever its time (a marker and the version it hides can
	// share a second; versitygw v1.8.0 gives a marker the time of the version it hides).
	newer := func(a, b listed) bool {
		return a.current && !b.current || a.current == b.current && a.LastModified.After(b.LastModified)
	}
	for i := 1; i < len(vs); i++ {
		for j := i; j > 0 && newer(vs[j], vs[j-1]); j-- {
			vs[j], vs[j-1] = vs[j-1], vs[j]
		}
	}
}

func headVersion(out *s3.HeadObjectOutput) replication.Version {
	return replication.Version{
		Exists:       true,
		DeleteMarker: aws.ToBool(out.DeleteMarker),
		VersionID:    aws.ToString(out.VersionId),
		LastModified: aws.ToTime(out.LastModified),
		Size:         aws.ToInt64(out.ContentLength),
		ETag:         aws.ToString(out.ETag),
		Metadata:     out.Metadata,
		StorageClass: string(out.StorageClass),
		Content: replication.Content{
			Type:              aws.ToString(out.ContentType),
			Encoding:          aws.ToString(out.ContentEncoding),
			Language:          aws.ToString(out.ContentLanguage),
			Disposition:       aws.ToString(out.ContentDisposition),
			CacheControl:      aws.ToString(out.CacheControl),
			Expires:           aws.ToString(out.ExpiresString),
			ChecksumAlgorithm: checksumOf(checksums{out.ChecksumCRC32, out.ChecksumCRC32C, out.ChecksumCRC64NVME, out.ChecksumSHA1, out.ChecksumSHA256}).algorithm,
		},
	}
}

// deleteMarkerFromError reads the delete marker headers S3 sends with a 404 HEAD whose current
// version is a delete marker: marker is true when x-amz-delete-marker is; the version id and
// Last-Modified are filled in only when the response carries them (AWS documents neither).
func deleteMarkerFromError(err error) (v replication.Version, marker bool) {
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) || re.Response == nil {
		return replication.Version{}, false
	}
	h := re.Response.Header
	if !strings.EqualFold(h.Get("x-amz-delete-marker"), "true") {
		return replication.Version{}, false
	}
	v = replication.Version{Exists: true, DeleteMarker: true, VersionID: h.Get("x-amz-version-id")}
	if t, err := http.ParseTime(h.Get("Last-Modified")); err == nil {
		v.LastModified = t
	}
	return v, true
}

// currentFromListing reads the current version of key from a one-item ListObjectVersions
// (Prefix=key: the key's own newest entry sorts first), falling back to the full listing when
// that item is not the key's current version. A key with no current version after a HEAD
// said it has a delete marker changed meanwhile: a retryable error.
func (s *Store) currentFromListing(ctx context.Context, c S3API, bucket, key string) (replication.Version, error) {
	page, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(key), MaxKeys: aws.Int32(1)})
	if err != nil {
		return replication.Version{}, classify("list versions", err)
	}
	for _, m := range page.DeleteMarkers {
		if aws.ToString(m.Key) == key && aws.ToBool(m.IsLatest) && aws.ToString(m.VersionId) != "" {
			return replication.Version{Exists: true, DeleteMarker: true, VersionID: aws.ToString(m.VersionId), LastModified: aws.ToTime(m.LastModified)}, nil
		}
	}
	versions, err := s.listVersions(ctx, c, bucket, key, 1)
	if err != nil {
		return replication.Version{}, err
	}
	if i := slices.IndexFunc(versions, func(v listed) bool { return v.current }); i >= 0 && versions[i].DeleteMarker {
		return versions[i].Version, nil
	}
	return replication.Version{}, fmt.Errorf("head %s/%q: a delete marker by the HEAD, not by the listing: current version changed while being read", bucket, key)
}

// copySource is the x-amz-copy-source value: bucket/key with every byte but unreserved
// characters and '/' percent-encoded ('+' too, which some servers read as a space), then the
// version id.
func copySource(bucket, key, versionID string) string {
	var b strings.Builder
	b.WriteString(bucket)
	b.WriteByte('/')
	for i := 0; i < len(key); i++ {
		c := key[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	if versionID != "" {
		b.WriteString("?versionId=" + url.QueryEscape(versionID))
	}
	return b.String()
}

func parseExpires(s string) *time.Time {
	if s == "" {
		return nil
	}
	t, err := http.ParseTime(s)
	if err != nil {
		return nil
	}
	return &t
}

// errors

func statusOf(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	switch errorCode(err) {
	case "NoSuchKey", "NoSuchVersion", "NotFound":
		return true
	}
	return statusOf(err) == http.StatusNotFound && errorCode(err) != "NoSuchBucket"
}

func ifMatch(c replication.Condition) *string {
	if c.IfMatch == "" {
		return nil
	}
	return aws.String(c.IfMatch)
}

func ifNoneMatch(c replication.Condition) *string {
	if !c.IfAbsent {
		return nil
	}
	return aws.String("*")
}

// conditionFailed reports whether err is a conditional write's failed condition: 412
// PreconditionFailed, 409 ConditionalRequestConflict (a concurrent write), or 404 NoSuchKey for
// If-Match (the key has no current object any more; for CopyObject it may also be the
// source, which the engine tells apart by reading the destination again).
func conditionFailed(err error, c replication.Condition) bool {
	if err == nil || c.IsZero() {
		return false
	}
	switch errorCode(err) {
	case "PreconditionFailed", "ConditionalRequestConflict":
		return true
	case "NoSuchKey":
		return c.IfMatch != ""
	}
	status := statusOf(err)
	return status == http.StatusPreconditionFailed || status == http.StatusConflict
}

func conditionError(op string, c replication.Condition, err error) error {
	return fmt.Errorf("%s (%s): %w", op, c, errors.Join(replication.ErrConditionFailed, err))
}

// transient reports whether err is worth the same request again: throttling, a 5xx, a
// timeout or a connection that broke before any HTTP answer.
func transient(err error) bool {
	switch errorCode(err) {
	case "SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout", "Throttling", "ThrottlingException":
		return true
	}
	status := statusOf(err)
	return status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status == 0
}

// permanentCodes are S3 error codes that retrying the same record cannot fix.
var permanentCodes = map[string]bool{
	"AccessDenied": true, "AllAccessDisabled": true, "NoSuchBucket": true, "InvalidAccessKeyId": true,
	"SignatureDoesNotMatch": true, "InvalidBucketName": true, "InvalidArgument": true, "InvalidRequest": true,
	"InvalidObjectState": true, "EntityTooLarge": true, "InvalidStorageClass": true, "KMS.NotFoundException": true,
	"KMS.DisabledException": true, "AuthorizationHeaderMalformed": true, "PermanentRedirect": true,
	"MethodNotAllowed": true,
}

// classify wraps err once with the operation and marks permanent S3 errors.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	code := errorCode(err)
	status := statusOf(err)
	wrapped := fmt.Errorf("%s: %w", op, err)
	if permanentCodes[code] || status == http.StatusForbidden || strings.HasPrefix(code, "KMS.") {
		return replication.Permanent(wrapped)
	}
	return wrapped
}
