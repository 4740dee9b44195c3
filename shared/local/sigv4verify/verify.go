// Package sigv4verify checks AWS Signature Version 4 header signatures against one set of
// local credentials, so the local runtime's endpoints refuse requests that AWS would refuse.
package sigv4verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Error codes the S3 API answers a failed check with.
const (
	CodeAccessDenied          = "AccessDenied"
	CodeInvalidAccessKeyID    = "InvalidAccessKeyId"
	CodeSignatureDoesNotMatch = "SignatureDoesNotMatch"
)

// Error is a failed check, carrying the S3 error code to answer with.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Result is what a valid signature tells about the request.
type Result struct {
	Region  string // the Region in the credential scope
	Service string // the service in the credential scope
}

// Verifier checks signatures made with one access key.
type Verifier struct {
	creds aws.Credentials
	// MaxSkew bounds how far X-Amz-Date may be from now (AWS: 15 minutes).
	MaxSkew time.Duration
	now     func() time.Time
}

// New returns a Verifier for the given key pair.
func New(accessKeyID, secretAccessKey string) *Verifier {
	return &Verifier{
		creds:   aws.Credentials{AccessKeyID: accessKeyID, SecretAccessKey: secretAccessKey},
		MaxSkew: 15 * time.Minute,
		now:     time.Now,
	}
}

// Verify checks the Authorization header of r, or the query of a presigned URL. When the
// payload hash is not in the X-Amz-Content-Sha256 header, the body is read, hashed and put
// back. SigV4A is not supported and is refused with AccessDenied.
func (v *Verifier) Verify(r *http.Request) (Result, error) {
	auth := r.Header.Get("Authorization")
	if auth == "" && r.URL.Query().Get("X-Amz-Algorithm") != "" {
		return v.verifyPresigned(r)
	}
	if auth == "" {
		return Result{}, &Error{CodeAccessDenied, "anonymous requests are not allowed: sign requests with the local credentials in endpoints.json"}
	}
	const algo = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(auth, algo) {
		return Result{}, &Error{CodeAccessDenied, "only AWS4-HMAC-SHA256 header signatures are supported locally"}
	}
	fields := map[string]string{}
	for _, part := range strings.Split(auth[len(algo):], ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = val
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return Result{}, &Error{CodeAccessDenied, "malformed Credential in Authorization header"}
	}
	if scope[0] != v.creds.AccessKeyID {
		return Result{}, &Error{CodeInvalidAccessKeyID, fmt.Sprintf("access key %q is not the local access key", scope[0])}
	}
	res := Result{Region: scope[2], Service: scope[3]}
	signedTime, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return Result{}, &Error{CodeAccessDenied, "missing or malformed X-Amz-Date header"}
	}
	if d := v.now().Sub(signedTime); d > v.MaxSkew || d < -v.MaxSkew {
		return Result{}, &Error{"RequestTimeTooSkewed", "the difference between the request time and the current time is too large"}
	}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return Result{}, fmt.Errorf("read body: %w", err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		sum := sha256.Sum256(body)
		payload = hex.EncodeToString(sum[:])
	}

	clone := &http.Request{Method: r.Method, URL: cloneURL(r), Host: r.Host, Header: http.Header{}}
	for _, h := range strings.Split(fields["SignedHeaders"], ";") {
		switch h {
		case "host", "":
		case "content-length":
			clone.ContentLength = r.ContentLength
		default:
			if vals, ok := r.Header[http.CanonicalHeaderKey(h)]; ok {
				clone.Header[http.CanonicalHeaderKey(h)] = vals
			}
		}
	}
	// Clients differ in whether the path is escaped twice (the s3 signing rule escapes it
	// once; s3control endpoints sign as "s3" without double escaping, but a client given a
	// static endpoint escapes twice): either form signed with the right key is accepted.
	got := fields["Signature"]
	for _, single := range []bool{res.Service == "s3", res.Service != "s3"} {
		c := *clone
		c.Header = clone.Header.Clone()
		signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = single })
		if err := signer.SignHTTP(context.Background(), v.creds, &c, payload, res.Service, res.Region, signedTime); err != nil {
			return Result{}, fmt.Errorf("recompute signature: %w", err)
		}
		want := signatureOf(c.Header.Get("Authorization"))
		if want != "" && subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1 {
			return res, nil
		}
	}
	return Result{}, &Error{CodeSignatureDoesNotMatch, "the request signature does not match the signature computed with the local secret key"}
}

// PresignParams are the query parameters of a presigned URL; forwarders drop them.
var PresignParams = []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
	"X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token"}

func (v *Verifier) verifyPresigned(r *http.Request) (Result, error) {
	q := r.URL.Query()
	if q.Get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" {
		return Result{}, &Error{CodeAccessDenied, "only AWS4-HMAC-SHA256 presigned URLs are supported locally"}
	}
	scope := strings.Split(q.Get("X-Amz-Credential"), "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return Result{}, &Error{CodeAccessDenied, "malformed X-Amz-Credential"}
	}
	if scope[0] != v.creds.AccessKeyID {
		return Result{}, &Error{CodeInvalidAccessKeyID, fmt.Sprintf("access key %q is not the local access key", scope[0])}
	}
	res := Result{Region: scope[2], Service: scope[3]}
	signedTime, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
	if err != nil {
		return Result{}, &Error{CodeAccessDenied, "missing or malformed X-Amz-Date"}
	}
	expires, err := strconv.Atoi(q.Get("X-Amz-Expires"))
	if err != nil || expires < 1 || expires > 7*24*3600 {
		return Result{}, &Error{CodeAccessDenied, "X-Amz-Expires must be between 1 and 604800 seconds"}
	}
	now := v.now()
	if now.Before(signedTime.Add(-v.MaxSkew)) || now.After(signedTime.Add(time.Duration(expires)*time.Second)) {
		return Result{}, &Error{CodeAccessDenied, "Request has expired"}
	}
	got := q.Get("X-Amz-Signature")
	clone := &http.Request{Method: r.Method, URL: cloneURL(r), Host: r.Host, Header: http.Header{}}
	cq := clone.URL.Query()
	cq.Del("X-Amz-Signature")
	clone.URL.RawQuery = cq.Encode()
	for _, h := range strings.Split(q.Get("X-Amz-SignedHeaders"), ";") {
		if h != "host" && h != "" {
			if vals, ok := r.Header[http.CanonicalHeaderKey(h)]; ok {
				clone.Header[http.CanonicalHeaderKey(h)] = vals
			}
		}
	}
	signer := v4.NewSigner(func(o *v4.SignerOptions) {
		o.DisableURIPathEscaping = res.Service == "s3"
		o.DisableHeaderHoisting = true
	})
	uri, _, err := signer.PresignHTTP(context.Background(), v.creds, clone, "UNSIGNED-PAYLOAD", res.Service, res.Region, signedTime)
	if err != nil {
		return Result{}, fmt.Errorf("recompute presigned signature: %w", err)
	}
	u, err := url.Parse(uri)
	if err != nil {
		return Result{}, err
	}
	want := u.Query().Get("X-Amz-Signature")
	if want == "" || subtle.ConstantTimeCompare([]byte(want), []byte(got)) != 1 {
		return Result{}, &Error{CodeSignatureDoesNotMatch, "the presigned URL's signature does not match the signature computed with the local secret key"}
	}
	return res, nil
}

func cloneURL(r *http.Request) *url.URL {
	u := *r.URL
	u.Scheme, u.Host = "", ""
	if u.Host == "" {
		u.Host = r.Host
	}
	return &u
}

func signatureOf(auth string) string {
	_, sig, ok := strings.Cut(auth, "Signature=")
	if !ok {
		return ""
	}
	return sig
}

// AsError returns the *Error inside err, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Response is how an S3-compatible endpoint answers a request that failed Verify: a
// signature the key does not make is 403 with S3's code; a request that cannot be checked at
// all is 400 InvalidRequest.
func Response(err error) (status int, code, message string) {
	if e, ok := AsError(err); ok {
		return http.StatusForbidden, e.Code, e.Message
	}
	return http.StatusBadRequest, "InvalidRequest", err.Error()
}
