package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// opaqueIDs makes versitygw's version ids sort against time, as S3 allows and other S3
// implementations do. versitygw v1.8.0 hands out ULIDs, which sort by creation, so a conflict
// rule that compared version id strings would pass against it by luck. Every client of the
// chaos test goes through this transport: it replaces each Crockford base32 character of a
// version id by its mirror in the alphabet (0<->Z, 1<->Y, ...), which reverses the order of
// equal-length ids and is its own inverse, in both directions: the versionId and
// version-id-marker query parameters and the versionId of x-amz-copy-source on the way in
// (the request is then signed again: the client signed the ids it saw), the
// x-amz-version-id headers and the VersionId elements of version listings on the way out.
type opaqueIDs struct {
	next    http.RoundTripper
	secrets map[string]string // access key -> secret key
	signer  *v4.Signer
}

func newOpaqueIDs(next http.RoundTripper, secrets map[string]string) *opaqueIDs {
	return &opaqueIDs{next: next, secrets: secrets, signer: v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })}
}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// mirrorID maps a version id to its mirror (and back).
func mirrorID(id string) string {
	b := []byte(id)
	for i, c := range b {
		if j := strings.IndexByte(crockford, c); j >= 0 {
			b[i] = crockford[len(crockford)-1-j]
		}
	}
	return string(b)
}

var (
	versionIDElement = regexp.MustCompile(`<(VersionId|NextVersionIdMarker|VersionIdMarker|DeleteMarkerVersionId)>([^<]*)</(VersionId|NextVersionIdMarker|VersionIdMarker|DeleteMarkerVersionId)>`)
	credentialScope  = regexp.MustCompile(`Credential=([^/]+)/\d{8}/([^/]+)/s3/aws4_request`)
)

// RoundTrip implements http.RoundTripper.
func (o *opaqueIDs) RoundTrip(req *http.Request) (*http.Response, error) {
	req, err := o.rewriteRequest(req)
	if err != nil {
		return nil, err
	}
	resp, err := o.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	for _, h := range []string{"x-amz-version-id", "x-amz-copy-source-version-id"} {
		if v := resp.Header.Get(h); v != "" && v != "null" {
			resp.Header.Set(h, mirrorID(v))
		}
	}
	q := req.URL.Query()
	if (req.Method == http.MethodGet && q.Has("versions")) || (req.Method == http.MethodPost && q.Has("delete")) {
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		body = versionIDElement.ReplaceAllFunc(body, func(m []byte) []byte {
			sub := versionIDElement.FindSubmatch(m)
			if string(sub[2]) == "null" {
				return m
			}
			return []byte(fmt.Sprintf("<%s>%s</%s>", sub[1], mirrorID(string(sub[2])), sub[1]))
		})
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	}
	return resp, nil
}

// rewriteRequest mirrors the version ids a request names and signs it again when it changed.
func (o *opaqueIDs) rewriteRequest(req *http.Request) (*http.Request, error) {
	q := req.URL.Query()
	changed := false
	for _, p := range []string{"versionId", "version-id-marker"} {
		if v := q.Get(p); v != "" && v != "null" {
			q.Set(p, mirrorID(v))
			changed = true
		}
	}
	src := req.Header.Get("x-amz-copy-source")
	if i := strings.Index(src, "?versionId="); i >= 0 {
		src = src[:i] + "?versionId=" + mirrorID(src[i+len("?versionId="):])
		changed = true
	}
	if !changed {
		return req, nil
	}
	auth := credentialScope.FindStringSubmatch(req.Header.Get("Authorization"))
	if auth == nil {
		return nil, fmt.Errorf("opaque ids: request %s %s is not SigV4-signed", req.Method, req.URL.Path)
	}
	secret, ok := o.secrets[auth[1]]
	if !ok {
		return nil, fmt.Errorf("opaque ids: unknown access key in %s %s", req.Method, req.URL.Path)
	}
	out := req.Clone(req.Context())
	out.URL.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	if src != "" {
		out.Header.Set("x-amz-copy-source", src)
	}
	out.Header.Del("Authorization")
	hash := out.Header.Get("X-Amz-Content-Sha256")
	if hash == "" {
		hash = "UNSIGNED-PAYLOAD"
	}
	creds := aws.Credentials{AccessKeyID: auth[1], SecretAccessKey: secret}
	if err := o.signer.SignHTTP(context.WithoutCancel(req.Context()), creds, out, hash, "s3", auth[2], time.Now().UTC()); err != nil {
		return nil, fmt.Errorf("opaque ids: sign again: %w", err)
	}
	return out, nil
}
