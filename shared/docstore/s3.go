package docstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// ObjectAPI is the part of *s3.Client the S3 adapter calls.
type ObjectAPI interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

var _ ObjectAPI = (*s3.Client)(nil)

// S3 is a Store of objects in one bucket. Conditions are S3's own conditional writes
// (PutObject If-Match / If-None-Match): 412 Precondition Failed and 409
// ConditionalRequestConflict (a concurrent conditional write) are ErrPrecondition; a 501 Not
// Implemented to a conditional Put is ErrConditionsUnsupported; a 404 or NoSuchKey on Get is
// ErrNotFound.
type S3 struct {
	client ObjectAPI
	bucket string
}

var _ Store = (*S3)(nil)

// NewS3 returns a Store of the objects in bucket.
func NewS3(client ObjectAPI, bucket string) (*S3, error) {
	if client == nil || bucket == "" {
		return nil, errors.New("docstore s3: a client and a bucket are required")
	}
	return &S3{client: client, bucket: bucket}, nil
}

// Get implements Store.
func (s *S3) Get(ctx context.Context, key string) (Doc, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		if (isStatus(err, 404) || isNoSuchKey(err)) && !isCode(err, "NoSuchBucket") { // a missing bucket is a misconfiguration, not an empty store
			return Doc{}, fmt.Errorf("s3://%s/%s: %w", s.bucket, key, ErrNotFound)
		}
		return Doc{}, fmt.Errorf("get s3://%s/%s: %w", s.bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, MaxSize+1))
	if err != nil {
		return Doc{}, fmt.Errorf("get s3://%s/%s: %w", s.bucket, key, err)
	}
	if len(b) > MaxSize {
		return Doc{}, fmt.Errorf("get s3://%s/%s: larger than %d bytes", s.bucket, key, MaxSize)
	}
	return Doc{Body: b, ETag: aws.ToString(out.ETag)}, nil
}

// Put implements Store.
func (s *S3) Put(ctx context.Context, key string, body []byte, c Cond) (string, error) {
	in := &s3.PutObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))), ContentType: aws.String("application/json"),
	}
	if c.IfMatch != "" {
		in.IfMatch = aws.String(c.IfMatch)
	}
	if c.IfNoneMatch {
		in.IfNoneMatch = aws.String("*")
	}
	out, err := s.client.PutObject(ctx, in)
	if err != nil {
		if isStatus(err, 412) || isStatus(err, 409) || isCode(err, "PreconditionFailed", "ConditionalRequestConflict") {
			return "", fmt.Errorf("put s3://%s/%s: %w (%w)", s.bucket, key, ErrPrecondition, err)
		}
		if (c.IfMatch != "" || c.IfNoneMatch) && (isStatus(err, 501) || isCode(err, "NotImplemented")) {
			return "", fmt.Errorf("put s3://%s/%s: %w (%w)", s.bucket, key, ErrConditionsUnsupported, err)
		}
		// If-Match on an absent key: S3 answers 404 NoSuchKey.
		if c.IfMatch != "" && (isStatus(err, 404) || isNoSuchKey(err)) {
			return "", fmt.Errorf("put s3://%s/%s if-match: no document: %w", s.bucket, key, ErrPrecondition)
		}
		return "", fmt.Errorf("put s3://%s/%s: %w", s.bucket, key, err)
	}
	return aws.ToString(out.ETag), nil
}

func isStatus(err error, code int) bool {
	var re *smithyhttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == code
}

func isNoSuchKey(err error) bool {
	var nsk *types.NoSuchKey
	return errors.As(err, &nsk) || isCode(err, "NoSuchKey")
}

func isCode(err error, codes ...string) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	for _, c := range codes {
		if ae.ErrorCode() == c {
			return true
		}
	}
	return false
}
