package s3store

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mrap-engine/mrap/shared/replication"
)

func TestCopySourceEncodesKeyAndVersion(t *testing.T) {
	tests := []struct {
		key, version string
	}{
		{key: "plain.txt", version: "v1"},
		{key: "dir/with space/a+b%c:d.txt", version: "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo"},
		{key: "café/日本😀", version: "null"},
		{key: "q?x=1&y#frag", version: "a/b=c"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got := copySource("bucket", tt.key, tt.version)
			path, query, _ := strings.Cut(got, "?")
			key, err := url.PathUnescape(strings.TrimPrefix(path, "bucket/"))
			if err != nil || key != tt.key {
				t.Errorf("copy source %q decodes to key %q (%v), want %q", got, key, err, tt.key)
			}
			q, err := url.ParseQuery(query)
			if err != nil || q.Get("versionId") != tt.version {
				t.Errorf("copy source %q carries version %q, want %q", got, q.Get("versionId"), tt.version)
			}
		})
	}
}

func TestPartSizeStaysWithinTenThousandParts(t *testing.T) {
	s, err := New(map[string]S3API{"eu-west-1": s3.New(s3.Options{})}, Options{PartSize: 5 * MiB})
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int64{1, 5 * MiB, 50 * GiB, 5 << 40} {
		p := s.partSize(size)
		if parts := (size + p - 1) / p; parts > maxParts || p < 5*MiB {
			t.Errorf("size %d: part size %d gives %d parts", size, p, parts)
		}
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	c := map[string]S3API{"eu-west-1": s3.New(s3.Options{})}
	tests := []struct {
		name    string
		clients map[string]S3API
		opts    Options
	}{
		{name: "no clients", opts: Options{}},
		{name: "part below 5 MiB", clients: c, opts: Options{PartSize: MiB}},
		{name: "server-side threshold above CopyObject's limit", clients: c, opts: Options{SameService: true, MultipartThreshold: 6 * GiB}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.clients, tt.opts); err == nil {
				t.Error("New accepted bad options")
			}
		})
	}
}

// s3Server is an httptest S3 that answers by request with handler and counts requests.
type s3Server struct {
	*httptest.Server
	mu    sync.Mutex
	calls []string
}

func newS3Server(t *testing.T, handler func(w http.ResponseWriter, r *http.Request, op string)) *s3Server {
	s := &s3Server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		op := opOf(r)
		s.mu.Lock()
		s.calls = append(s.calls, op)
		s.mu.Unlock()
		handler(w, r, op)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *s3Server) count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c == op {
			n++
		}
	}
	return n
}

func opOf(r *http.Request) string {
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodPost && q.Has("uploads"):
		return "CreateMultipartUpload"
	case r.Method == http.MethodPost && q.Has("uploadId"):
		return "CompleteMultipartUpload"
	case r.Method == http.MethodDelete && q.Has("uploadId"):
		return "AbortMultipartUpload"
	case r.Method == http.MethodPut && q.Has("uploadId") && r.Header.Get("x-amz-copy-source") != "":
		return "UploadPartCopy"
	case r.Method == http.MethodPut && r.Header.Get("x-amz-copy-source") != "":
		return "CopyObject"
	case r.Method == http.MethodGet && q.Has("tagging"):
		return "GetObjectTagging"
	case r.Method == http.MethodGet && q.Has("versions"):
		return "ListObjectVersions"
	case r.Method == http.MethodHead:
		return "HeadObject"
	}
	return r.Method
}

func clientFor(srv *s3Server, attempts int) *s3.Client {
	return s3.New(s3.Options{
		Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true, RetryMaxAttempts: attempts,
		Credentials: credentials.NewStaticCredentialsProvider("AK", "SK", ""),
	})
}

const errorBody = `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message><RequestId>R</RequestId></Error>`

func TestCopyObject200WithErrorBodyIsAnError(t *testing.T) {
	srv := newS3Server(t, func(w http.ResponseWriter, r *http.Request, op string) {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, errorBody)
	})
	c := clientFor(srv, 2)
	store, err := New(map[string]S3API{"eu-west-1": c, "us-east-1": c}, Options{SameService: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = store.Copy(context.Background(), copyRequest(1024))
	if err == nil || !strings.Contains(err.Error(), "InternalError") {
		t.Fatalf("Copy error = %v, want the InternalError carried by the 200", err)
	}
	if replication.IsPermanent(err) {
		t.Error("a 200 carrying InternalError was classified permanent, want retryable")
	}
	if got := srv.count("CopyObject"); got != 2 {
		t.Errorf("CopyObject sent %d times, want 2 (the standard retryer retries it like a 5xx)", got)
	}
}

func TestMultipartCopyCompleteErrorAborts(t *testing.T) {
	srv := newS3Server(t, func(w http.ResponseWriter, r *http.Request, op string) {
		switch op {
		case "GetObjectTagging":
			_, _ = io.WriteString(w, `<Tagging><TagSet></TagSet></Tagging>`)
		case "CreateMultipartUpload":
			_, _ = io.WriteString(w, `<InitiateMultipartUploadResult><Bucket>dst</Bucket><Key>k</Key><UploadId>U1</UploadId></InitiateMultipartUploadResult>`)
		case "UploadPartCopy":
			_, _ = io.WriteString(w, `<CopyPartResult><ETag>"e"</ETag></CopyPartResult>`)
		case "CompleteMultipartUpload":
			_, _ = io.WriteString(w, errorBody) // 200 with an error
		case "AbortMultipartUpload":
			w.WriteHeader(http.StatusNoContent)
		default:
			w.WriteHeader(http.StatusNotImplemented)
		}
	})
	c := clientFor(srv, 1)
	store, err := New(map[string]S3API{"eu-west-1": c, "us-east-1": c}, Options{SameService: true, MultipartThreshold: 5 * MiB, PartSize: 5 * MiB, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	_, err = store.Copy(context.Background(), copyRequest(12*MiB))
	if err == nil || !strings.Contains(err.Error(), "complete multipart upload") {
		t.Fatalf("Copy error = %v, want the failed completion", err)
	}
	if got := srv.count("UploadPartCopy"); got != 3 {
		t.Errorf("UploadPartCopy sent %d times, want 3 parts for 12 MiB", got)
	}
	if got := srv.count("AbortMultipartUpload"); got != 1 {
		t.Errorf("AbortMultipartUpload sent %d times, want 1", got)
	}
}

func TestHeadRetriesThrottlingAndClassifiesDenied(t *testing.T) {
	var mu sync.Mutex
	n := 0
	srv := newS3Server(t, func(w http.ResponseWriter, r *http.Request, op string) {
		mu.Lock()
		n++
		first := n == 1
		mu.Unlock()
		switch {
		case strings.Contains(r.URL.Path, "denied"):
			w.WriteHeader(http.StatusForbidden)
		case first:
			w.WriteHeader(http.StatusServiceUnavailable) // SlowDown
		default:
			w.Header().Set("x-amz-version-id", "v1")
			w.Header().Set("Last-Modified", "Wed, 25 Nov 2026 18:00:00 GMT")
			w.Header().Set("x-amz-meta-owner", "me")
			w.WriteHeader(http.StatusOK)
		}
	})
	store, err := New(map[string]S3API{"eu-west-1": clientFor(srv, 3)}, Options{TrustNotFound: true})
	if err != nil {
		t.Fatal(err)
	}
	v, err := store.Head(context.Background(), "eu-west-1", "b", "k")
	if err != nil || v.VersionID != "v1" || v.Metadata["owner"] != "me" {
		t.Fatalf("Head = %+v, %v; want version v1 after a retried 503", v, err)
	}
	if got := srv.count("HeadObject"); got != 2 {
		t.Errorf("HEAD sent %d times, want 2", got)
	}
	_, err = store.Head(context.Background(), "eu-west-1", "b", "denied")
	if err == nil || !replication.IsPermanent(err) {
		t.Errorf("Head of a 403 = %v, want a permanent error", err)
	}
	if _, err := store.Head(context.Background(), "ap-south-1", "b", "k"); err == nil || !replication.IsPermanent(err) {
		t.Errorf("Head in a Region without client = %v, want a permanent error", err)
	}
}

func TestHeadReadsDeleteMarkerHeaders(t *testing.T) {
	srv := newS3Server(t, func(w http.ResponseWriter, r *http.Request, op string) {
		if strings.HasSuffix(r.URL.Path, "/deleted") {
			w.Header().Set("x-amz-delete-marker", "true")
			w.Header().Set("x-amz-version-id", "dm1")
			w.Header().Set("Last-Modified", "Wed, 25 Nov 2026 18:00:00 GMT")
		}
		w.WriteHeader(http.StatusNotFound)
	})
	store, err := New(map[string]S3API{"eu-west-1": clientFor(srv, 1)}, Options{TrustNotFound: true})
	if err != nil {
		t.Fatal(err)
	}
	v, err := store.Head(context.Background(), "eu-west-1", "b", "deleted")
	if err != nil || !v.Exists || !v.DeleteMarker || v.VersionID != "dm1" || v.LastModified.Hour() != 18 {
		t.Errorf("Head of a delete marker = %+v, %v", v, err)
	}
	v, err = store.Head(context.Background(), "eu-west-1", "b", "absent")
	if err != nil || v.Exists {
		t.Errorf("Head of an absent key = %+v, %v; want Exists false", v, err)
	}
	if got := srv.count("ListObjectVersions"); got != 0 {
		t.Errorf("listed versions %d times; with TrustNotFound a 404 is trusted", got)
	}
	if got := srv.count("GET"); got != 1 {
		t.Errorf("%d GETs, want 1: the record of the delete marker (none here: an original)", got)
	}
}

func copyRequest(size int64) replication.CopyRequest {
	return replication.CopyRequest{
		SourceRegion: "eu-west-1", SourceBucket: "src", Key: "dir/a b+c.txt",
		Source:     replication.Version{Exists: true, VersionID: "v1", Size: size, Metadata: map[string]string{"owner": "me"}},
		DestRegion: "us-east-1", DestBucket: "dst",
		Marks: replication.Origin{Region: "eu-west-1", VersionID: "v1"}.Marks(),
	}
}

func TestReplicaMetadataReplacesStaleMarks(t *testing.T) {
	got := replicaMetadata(map[string]string{"owner": "me", "Mrap-Origin-Region": "old"}, map[string]string{"mrap-origin-region": "new"})
	if len(got) != 2 || got["owner"] != "me" || got["mrap-origin-region"] != "new" {
		t.Errorf("replicaMetadata = %v", got)
	}
}

func TestErrorsClassification(t *testing.T) {
	if classify("x", nil) != nil {
		t.Error("classify(nil) != nil")
	}
	if err := sourceOr("get", errors.New("boom")); errors.Is(err, replication.ErrNotFound) || replication.IsPermanent(err) {
		t.Errorf("plain error classified as %v", err)
	}
}

func TestServerSideCopyRequestCarriesFidelityAndPolicy(t *testing.T) {
	var mu sync.Mutex
	var got http.Header
	var gotPath string
	srv := newS3Server(t, func(w http.ResponseWriter, r *http.Request, op string) {
		mu.Lock()
		got, gotPath = r.Header.Clone(), r.URL.EscapedPath()
		mu.Unlock()
		_, _ = io.WriteString(w, `<CopyObjectResult><ETag>"e"</ETag></CopyObjectResult>`)
	})
	c := clientFor(srv, 1)
	store, err := New(map[string]S3API{"eu-west-1": c, "us-east-1": c}, Options{
		SameService: true, StorageClass: "STANDARD_IA", KMSKeys: map[string]string{"us-east-1": "arn:aws:kms:us-east-1:111122223333:key/k1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	req := copyRequest(1024)
	req.Source.Content = replication.Content{Type: "image/png", Encoding: "gzip", Language: "de", Disposition: "inline", CacheControl: "no-cache",
		Expires: "Thu, 01 Jan 2037 00:00:00 GMT", ChecksumAlgorithm: "CRC32C"}
	if _, err := store.Copy(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"X-Amz-Copy-Source":                           "src/dir/a%20b%2Bc.txt?versionId=v1",
		"X-Amz-Metadata-Directive":                    "REPLACE",
		"X-Amz-Tagging-Directive":                     "COPY",
		"X-Amz-Meta-Owner":                            "me",
		"X-Amz-Meta-Mrap-Origin-Region":               "eu-west-1",
		"X-Amz-Meta-Mrap-Origin-Version-Id":           "v1",
		"Content-Type":                                "image/png",
		"Content-Encoding":                            "gzip",
		"Content-Language":                            "de",
		"Content-Disposition":                         "inline",
		"Cache-Control":                               "no-cache",
		"Expires":                                     "Thu, 01 Jan 2037 00:00:00 GMT",
		"X-Amz-Checksum-Algorithm":                    "CRC32C",
		"X-Amz-Storage-Class":                         "STANDARD_IA",
		"X-Amz-Server-Side-Encryption":                "aws:kms",
		"X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id": "arn:aws:kms:us-east-1:111122223333:key/k1",
	}
	for k, v := range want {
		if got.Get(k) != v {
			t.Errorf("header %s = %q, want %q", k, got.Get(k), v)
		}
	}
	if gotPath != "/dst/dir/a%20b%2Bc.txt" {
		t.Errorf("destination path %q", gotPath)
	}
}
