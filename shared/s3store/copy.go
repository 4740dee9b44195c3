package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/mrap-engine/mrap/shared/replication"
)

// Copy writes the source version to the destination as a replica and returns the bytes
// written: server-side when Options.SameService, streamed otherwise.
func (s *Store) Copy(ctx context.Context, req replication.CopyRequest) (int64, error) {
	req.Condition = s.guardFor(req.DestRegion, req.Condition)
	n, err := s.copy(ctx, req)
	if s.refused(ctx, req.DestRegion, req.Condition, err) {
		req.Condition = replication.Condition{}
		return s.copy(ctx, req)
	}
	return n, err
}

// copy is Copy under exactly req.Condition.
func (s *Store) copy(ctx context.Context, req replication.CopyRequest) (int64, error) {
	dst, err := s.client(req.DestRegion)
	if err != nil {
		return 0, err
	}
	src, err := s.client(req.SourceRegion)
	if err != nil {
		return 0, err
	}
	if req.Source.VersionID == "" {
		return 0, replication.Permanent(fmt.Errorf("copy %s/%q: no source version id", req.SourceBucket, req.Key))
	}
	if s.opts.SameService {
		if req.Source.Size > s.opts.MultipartThreshold {
			return s.copyMultipart(ctx, src, dst, req)
		}
		return s.copyObject(ctx, dst, req)
	}
	return s.stream(ctx, src, dst, req)
}

// target holds what every write of a replica sets.
type target struct {
	metadata     map[string]string
	content      replication.Content
	tagging      *string
	storageClass types.StorageClass
	sse          types.ServerSideEncryption
	kmsKey       *string
}

func (s *Store) target(req replication.CopyRequest, metadata map[string]string, content replication.Content) target {
	t := target{metadata: replicaMetadata(metadata, req.Marks), content: content, storageClass: types.StorageClass(s.opts.StorageClass)}
	if k := s.opts.KMSKeys[req.DestRegion]; k != "" {
		t.sse, t.kmsKey = types.ServerSideEncryptionAwsKms, aws.String(k)
	}
	return t
}

// replicaMetadata is the source's user metadata, minus any stale marks, plus the marks.
func replicaMetadata(src, marks map[string]string) map[string]string {
	out := make(map[string]string, len(src)+len(marks))
	for k, v := range src {
		if !strings.HasPrefix(strings.ToLower(k), "mrap-origin-") {
			out[k] = v
		}
	}
	maps.Copy(out, marks)
	return out
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// copyObject is the server-side single-request copy (up to 5 GiB).
func (s *Store) copyObject(ctx context.Context, dst S3API, req replication.CopyRequest) (int64, error) {
	t := s.target(req, req.Source.Metadata, req.Source.Content)
	c := t.content
	_, err := dst.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket:               aws.String(req.DestBucket),
		Key:                  aws.String(req.Key),
		CopySource:           aws.String(copySource(req.SourceBucket, req.Key, req.Source.VersionID)),
		MetadataDirective:    types.MetadataDirectiveReplace,
		TaggingDirective:     types.TaggingDirectiveCopy,
		Metadata:             t.metadata,
		ContentType:          nonEmpty(c.Type),
		ContentEncoding:      nonEmpty(c.Encoding),
		ContentLanguage:      nonEmpty(c.Language),
		ContentDisposition:   nonEmpty(c.Disposition),
		CacheControl:         nonEmpty(c.CacheControl),
		Expires:              parseExpires(c.Expires),
		ChecksumAlgorithm:    types.ChecksumAlgorithm(c.ChecksumAlgorithm),
		StorageClass:         t.storageClass,
		ServerSideEncryption: t.sse,
		SSEKMSKeyId:          t.kmsKey,
		IfMatch:              ifMatch(req.Condition),
		IfNoneMatch:          ifNoneMatch(req.Condition),
	})
	if conditionFailed(err, req.Condition) {
		return 0, conditionError("copy object", req.Condition, err)
	}
	if err != nil {
		return 0, sourceOr("copy object", err)
	}
	return req.Source.Size, nil
}

// sourceOr turns a missing source version into replication.ErrNotFound and classifies the rest.
func sourceOr(op string, err error) error {
	switch errorCode(err) {
	case "NoSuchKey", "NoSuchVersion":
		return fmt.Errorf("%s: source version gone: %w", op, errors.Join(replication.ErrNotFound, err))
	}
	var nsk *types.NoSuchKey
	if errors.As(err, &nsk) {
		return fmt.Errorf("%s: source version gone: %w", op, errors.Join(replication.ErrNotFound, err))
	}
	return classify(op, err)
}

// copyMultipart copies a large version server-side with parallel UploadPartCopy requests.
func (s *Store) copyMultipart(ctx context.Context, src, dst S3API, req replication.CopyRequest) (int64, error) {
	tagging, err := s.tagging(ctx, src, req)
	if err != nil {
		return 0, err
	}
	t := s.target(req, req.Source.Metadata, req.Source.Content)
	t.tagging = tagging
	size := req.Source.Size
	partSize := s.partSize(size)
	source := copySource(req.SourceBucket, req.Key, req.Source.VersionID)
	err = s.multipart(ctx, dst, req, t, func(g *errgroup.Group, gctx context.Context, uploadID string, add func(types.CompletedPart)) error {
		for n, off := int32(1), int64(0); off < size; n, off = n+1, off+partSize {
			end := min(off+partSize, size) - 1
			g.Go(func() error {
				out, err := dst.UploadPartCopy(gctx, &s3.UploadPartCopyInput{
					Bucket: aws.String(req.DestBucket), Key: aws.String(req.Key), UploadId: aws.String(uploadID),
					PartNumber: aws.Int32(n), CopySource: aws.String(source), CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", off, end)),
				})
				if err != nil {
					return sourceOr(fmt.Sprintf("upload part copy %d", n), err)
				}
				r := out.CopyPartResult
				if r == nil {
					return fmt.Errorf("upload part copy %d: empty result", n)
				}
				add(types.CompletedPart{PartNumber: aws.Int32(n), ETag: r.ETag, ChecksumCRC32: r.ChecksumCRC32, ChecksumCRC32C: r.ChecksumCRC32C,
					ChecksumCRC64NVME: r.ChecksumCRC64NVME, ChecksumSHA1: r.ChecksumSHA1, ChecksumSHA256: r.ChecksumSHA256})
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return size, nil
}

// partSize returns the configured part size, raised when size would need more than 10,000 parts.
func (s *Store) partSize(size int64) int64 {
	p := s.opts.PartSize
	if need := (size + maxParts - 1) / maxParts; need > p {
		p = (need + MiB - 1) / MiB * MiB
	}
	return p
}

// multipart creates an upload, lets parts schedule part uploads on a bounded group, then
// completes it, or aborts it when anything failed.
func (s *Store) multipart(ctx context.Context, dst S3API, req replication.CopyRequest, t target,
	parts func(g *errgroup.Group, gctx context.Context, uploadID string, add func(types.CompletedPart)) error) error {
	c := t.content
	created, err := dst.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:               aws.String(req.DestBucket),
		Key:                  aws.String(req.Key),
		Metadata:             t.metadata,
		ContentType:          nonEmpty(c.Type),
		ContentEncoding:      nonEmpty(c.Encoding),
		ContentLanguage:      nonEmpty(c.Language),
		ContentDisposition:   nonEmpty(c.Disposition),
		CacheControl:         nonEmpty(c.CacheControl),
		Expires:              parseExpires(c.Expires),
		Tagging:              t.tagging,
		StorageClass:         t.storageClass,
		ServerSideEncryption: t.sse,
		SSEKMSKeyId:          t.kmsKey,
		ChecksumAlgorithm:    types.ChecksumAlgorithm(c.ChecksumAlgorithm),
	})
	if err != nil {
		return classify("create multipart upload", err)
	}
	uploadID := aws.ToString(created.UploadId)
	var mu sync.Mutex
	var done []types.CompletedPart
	add := func(p types.CompletedPart) { mu.Lock(); done = append(done, p); mu.Unlock() }
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.opts.Concurrency)
	err = parts(g, gctx, uploadID, add)
	if werr := g.Wait(); err == nil {
		err = werr
	}
	if err == nil {
		slices.SortFunc(done, func(a, b types.CompletedPart) int { return int(aws.ToInt32(a.PartNumber) - aws.ToInt32(b.PartNumber)) })
		_, err = dst.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
			Bucket: aws.String(req.DestBucket), Key: aws.String(req.Key), UploadId: aws.String(uploadID),
			MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
			IfMatch:         ifMatch(req.Condition), IfNoneMatch: ifNoneMatch(req.Condition),
		})
		if err == nil {
			return nil
		}
		if conditionFailed(err, req.Condition) {
			err = conditionError("complete multipart upload", req.Condition, err)
		} else {
			err = classify("complete multipart upload", err)
		}
	}
	_, aerr := dst.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{
		Bucket: aws.String(req.DestBucket), Key: aws.String(req.Key), UploadId: aws.String(uploadID),
	})
	if aerr != nil {
		return errors.Join(err, fmt.Errorf("abort multipart upload %s: %w", uploadID, aerr))
	}
	return err
}

// tagging reads the source version's tags as a URL-encoded query string (nil when none).
func (s *Store) tagging(ctx context.Context, src S3API, req replication.CopyRequest) (*string, error) {
	out, err := src.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(req.SourceBucket), Key: aws.String(req.Key), VersionId: aws.String(req.Source.VersionID)})
	if err != nil {
		return nil, sourceOr("get object tagging", err)
	}
	if len(out.TagSet) == 0 {
		return nil, nil
	}
	v := url.Values{}
	for _, tag := range out.TagSet {
		v.Set(aws.ToString(tag.Key), aws.ToString(tag.Value))
	}
	return aws.String(v.Encode()), nil
}

// unsignedPayload signs a streamed body as UNSIGNED-PAYLOAD (the body cannot be hashed
// before it is sent) and lets the SDK add checksums only where S3 requires them: the
// replica's checksum is the source's, set by the store.
func unsignedPayload(o *s3.Options) {
	o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
	o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
}

// Streams reports whether a copy of size bytes streams through the process in one PUT:
// then the engine reads the source with Open (one GET) instead of HEAD and GET.
func (s *Store) Streams(size int64) bool {
	return !s.opts.SameService && size <= s.opts.MultipartThreshold
}

// openObject is a source opened by Open: the GET of the key's current version.
type openObject struct {
	out *s3.GetObjectOutput
}

func (o *openObject) Close() error { return o.out.Body.Close() }

// Open reads key's current version with a GET (no version id) and leaves its body open for
// CopyFrom. A key whose current version is a delete marker, or that does not exist, is read
// as Head reads it, with no body.
func (s *Store) Open(ctx context.Context, region, bucket, key string) (replication.Version, replication.Source, error) {
	c, err := s.client(region)
	if err != nil {
		return replication.Version{}, nil, err
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		if isNotFound(err) {
			v, err := s.Head(ctx, region, bucket, key)
			return v, nil, err
		}
		return replication.Version{}, nil, classify("get", err)
	}
	v := replication.Version{
		Exists:       true,
		VersionID:    aws.ToString(out.VersionId),
		LastModified: aws.ToTime(out.LastModified),
		Size:         aws.ToInt64(out.ContentLength),
		ETag:         aws.ToString(out.ETag),
		Metadata:     out.Metadata,
		StorageClass: string(out.StorageClass),
		Content:      getContent(out),
	}
	return v, &openObject{out: out}, nil
}

// CopyFrom streams the version opened by Open to the destination; it closes src.
func (s *Store) CopyFrom(ctx context.Context, req replication.CopyRequest, src replication.Source) (int64, error) {
	defer src.Close()
	o, ok := src.(*openObject)
	if !ok || aws.ToString(o.out.VersionId) != req.Source.VersionID {
		return s.Copy(ctx, req)
	}
	dst, err := s.client(req.DestRegion)
	if err != nil {
		return 0, err
	}
	from, err := s.client(req.SourceRegion)
	if err != nil {
		return 0, err
	}
	req.Condition = s.guardFor(req.DestRegion, req.Condition)
	n, err := s.streamFrom(ctx, from, dst, req, o.out)
	switch {
	case s.refused(ctx, req.DestRegion, req.Condition, err):
		// The opened body is spent: read the version again, without the condition.
		req.Condition = replication.Condition{}
		return s.copy(ctx, req)
	case err != nil && s.copyAgain(n, err):
		return s.stream(ctx, from, dst, req, wholeCopyAttempts-1)
	}
	return n, err
}

func getContent(get *s3.GetObjectOutput) replication.Content {
	return replication.Content{
		Type: aws.ToString(get.ContentType), Encoding: aws.ToString(get.ContentEncoding), Language: aws.ToString(get.ContentLanguage),
		Disposition: aws.ToString(get.ContentDisposition), CacheControl: aws.ToString(get.CacheControl), Expires: aws.ToString(get.ExpiresString),
		ChecksumAlgorithm: checksumOf(checksums{get.ChecksumCRC32, get.ChecksumCRC32C, get.ChecksumCRC64NVME, get.ChecksumSHA1, get.ChecksumSHA256}).algorithm,
	}
}

// stream copies a version through this process: GET -> PUT, or GET -> multipart upload.
// A streamed single PUT up to the part size sends a buffered, seekable body, so the SDK's
// retryer retries it like any request. Above the part size (MRAP_MULTIPART_THRESHOLD set
// above MRAP_PART_SIZE) the body is the source GET itself, which the SDK cannot rewind: a
// transient failure (5xx, throttling, a broken connection) of that PUT reads the source again
// and makes the whole copy again, at most wholeCopyAttempts times in all.
const wholeCopyAttempts = 3

// smallBody is the size up to which a single PUT's body is its own allocation rather than a
// shared part buffer (so small copies never wait for one).
const smallBody int64 = 8 * MiB

// stream copies a version through this process: GET -> PUT, or GET -> multipart upload; a
// non-seekable PUT that failed transiently is made again from a new GET, attempts in all.
func (s *Store) stream(ctx context.Context, src, dst S3API, req replication.CopyRequest, attempts ...int) (int64, error) {
	left := wholeCopyAttempts
	if len(attempts) > 0 {
		left = attempts[0]
	}
	for {
		get, err := src.GetObject(ctx, &s3.GetObjectInput{
			Bucket: aws.String(req.SourceBucket), Key: aws.String(req.Key), VersionId: aws.String(req.Source.VersionID),
			ChecksumMode: types.ChecksumModeEnabled,
		})
		if err != nil {
			return 0, sourceOr("get object", err)
		}
		n, err := s.streamFrom(ctx, src, dst, req, get)
		_ = get.Body.Close()
		left--
		if err == nil || left <= 0 || !s.copyAgain(n, err) || ctx.Err() != nil {
			return n, err
		}
	}
}

// copyAgain reports whether a failed streamed copy of n bytes sent a body the SDK could not
// rewind (a single PUT above the part size) and failed transiently.
func (s *Store) copyAgain(n int64, err error) bool {
	var ns *nonSeekablePut
	if !errors.As(err, &ns) {
		return false
	}
	return transient(err)
}

// nonSeekablePut marks the failure of a single PUT whose body was the source stream.
type nonSeekablePut struct{ err error }

func (e *nonSeekablePut) Error() string { return e.err.Error() }
func (e *nonSeekablePut) Unwrap() error { return e.err }

// streamFrom writes an open GET of the source version to the destination; the caller closes it.
func (s *Store) streamFrom(ctx context.Context, src, dst S3API, req replication.CopyRequest, get *s3.GetObjectOutput) (int64, error) {
	var err error
	content := replication.Content{
		Type: aws.ToString(get.ContentType), Encoding: aws.ToString(get.ContentEncoding), Language: aws.ToString(get.ContentLanguage),
		Disposition: aws.ToString(get.ContentDisposition), CacheControl: aws.ToString(get.CacheControl), Expires: aws.ToString(get.ExpiresString),
	}
	sum := checksumOf(checksums{get.ChecksumCRC32, get.ChecksumCRC32C, get.ChecksumCRC64NVME, get.ChecksumSHA1, get.ChecksumSHA256})
	if get.ChecksumType == types.ChecksumTypeComposite {
		sum.fullObject = false
	}
	content.ChecksumAlgorithm = sum.algorithm
	t := s.target(req, get.Metadata, content)
	if aws.ToInt32(get.TagCount) > 0 {
		if t.tagging, err = s.tagging(ctx, src, req); err != nil {
			return 0, err
		}
	}
	size := aws.ToInt64(get.ContentLength)
	if size > s.opts.MultipartThreshold {
		return size, s.streamMultipart(ctx, dst, req, t, get.Body, size)
	}
	var body io.Reader = io.NopCloser(get.Body) // not seekable: sent as it is read
	seekable := size <= s.opts.PartSize
	if seekable {
		buf, release, err := s.putBuffer(ctx, size)
		if err != nil {
			return 0, err
		}
		defer release()
		if _, err := io.ReadFull(get.Body, buf); err != nil {
			return 0, fmt.Errorf("read source %s/%q version %s: %w", req.SourceBucket, req.Key, req.Source.VersionID, err)
		}
		body = bytesReader(buf) // seekable: the SDK retries transient failures
	}
	in := &s3.PutObjectInput{
		Bucket:               aws.String(req.DestBucket),
		Key:                  aws.String(req.Key),
		Body:                 body,
		ContentLength:        aws.Int64(size),
		Metadata:             t.metadata,
		ContentType:          nonEmpty(content.Type),
		ContentEncoding:      nonEmpty(content.Encoding),
		ContentLanguage:      nonEmpty(content.Language),
		ContentDisposition:   nonEmpty(content.Disposition),
		CacheControl:         nonEmpty(content.CacheControl),
		Expires:              parseExpires(content.Expires),
		Tagging:              t.tagging,
		StorageClass:         t.storageClass,
		ServerSideEncryption: t.sse,
		SSEKMSKeyId:          t.kmsKey,
		IfMatch:              ifMatch(req.Condition),
		IfNoneMatch:          ifNoneMatch(req.Condition),
	}
	switch {
	case sum.fullObject:
		sum.setPut(in) // the destination verifies the bytes against the source's checksum
	case sum.algorithm != "" && s.opts.TrailingChecksums:
		// A composite (multipart) checksum cannot be sent whole: the SDK computes the algorithm
		// over the streamed body and sends it as a trailer (HTTPS only).
		in.ChecksumAlgorithm = types.ChecksumAlgorithm(sum.algorithm)
	}
	if _, err := dst.PutObject(ctx, in, unsignedPayload); err != nil {
		if conditionFailed(err, req.Condition) {
			return 0, conditionError("put object", req.Condition, err)
		}
		if !seekable {
			err = &nonSeekablePut{err: err}
		}
		return 0, classify("put object", err)
	}
	return size, nil
}

// putBuffer returns a buffer of size bytes for a single PUT's body and its release: its own
// allocation up to smallBody, else one of the Store's shared part buffers (bounded memory).
func (s *Store) putBuffer(ctx context.Context, size int64) ([]byte, func(), error) {
	if size <= smallBody {
		return make([]byte, size), func() {}, nil
	}
	var buf []byte
	select {
	case buf = <-s.buffers:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	if int64(cap(buf)) < size {
		buf = make([]byte, s.opts.PartSize)
	}
	return buf[:size], func() { s.buffers <- buf }, nil
}

// streamMultipart reads body part by part into the Store's shared part buffers and uploads
// the parts in parallel.
func (s *Store) streamMultipart(ctx context.Context, dst S3API, req replication.CopyRequest, t target, body io.Reader, size int64) error {
	partSize := s.partSize(size)
	pool := s.buffers
	return s.multipart(ctx, dst, req, t, func(g *errgroup.Group, gctx context.Context, uploadID string, add func(types.CompletedPart)) error {
		for n, off := int32(1), int64(0); off < size; n, off = n+1, off+partSize {
			var buf []byte
			select {
			case buf = <-pool:
			case <-gctx.Done():
				return gctx.Err()
			}
			want := min(partSize, size-off)
			if int64(cap(buf)) < want {
				buf = make([]byte, partSize)
			}
			buf = buf[:want]
			if _, err := io.ReadFull(body, buf); err != nil {
				pool <- buf
				return fmt.Errorf("read source part %d: %w", n, err)
			}
			g.Go(func() error {
				defer func() { pool <- buf }()
				out, err := dst.UploadPart(gctx, &s3.UploadPartInput{
					Bucket: aws.String(req.DestBucket), Key: aws.String(req.Key), UploadId: aws.String(uploadID),
					PartNumber: aws.Int32(n), Body: bytesReader(buf), ContentLength: aws.Int64(want),
					ChecksumAlgorithm: types.ChecksumAlgorithm(t.content.ChecksumAlgorithm),
				})
				if err != nil {
					return classify(fmt.Sprintf("upload part %d", n), err)
				}
				add(types.CompletedPart{PartNumber: aws.Int32(n), ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32, ChecksumCRC32C: out.ChecksumCRC32C,
					ChecksumCRC64NVME: out.ChecksumCRC64NVME, ChecksumSHA1: out.ChecksumSHA1, ChecksumSHA256: out.ChecksumSHA256})
				return nil
			})
		}
		return nil
	})
}
