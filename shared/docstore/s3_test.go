package docstore_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mrap-engine/mrap/shared/docstore"
	"github.com/mrap-engine/mrap/shared/local/s3server"
	"github.com/mrap-engine/mrap/shared/local/s3server/s3servertest"
)

func TestS3ContractAgainstVersitygw(t *testing.T) {
	srv := s3servertest.Start(t, s3server.Options{Region: "eu-west-1"})
	s, err := docstore.NewS3(srv.Client(), srv.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	contract(t, s)
}

// s3Wire is an httptest S3 that answers as S3 documents: 404 NoSuchKey with an XML body,
// 412 PreconditionFailed for a failed condition, 409 ConditionalRequestConflict when asked to.
type s3Wire struct {
	mu       sync.Mutex
	objs     map[string]string
	conflict bool
	status   int
}

func (w *s3Wire) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w.mu.Lock()
	defer w.mu.Unlock()
	key := strings.TrimPrefix(r.URL.Path, "/state/")
	xmlErr := func(code int, name string) {
		rw.Header().Set("Content-Type", "application/xml")
		rw.WriteHeader(code)
		_, _ = io.WriteString(rw, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>`+name+`</Code><Message>m</Message></Error>`)
	}
	if w.status != 0 {
		xmlErr(w.status, "InternalError")
		return
	}
	switch r.Method {
	case http.MethodGet:
		body, ok := w.objs[key]
		if !ok {
			xmlErr(404, "NoSuchKey")
			return
		}
		rw.Header().Set("ETag", `"e-`+body+`"`)
		_, _ = io.WriteString(rw, body)
	case http.MethodPut:
		b, _ := io.ReadAll(r.Body)
		cur, exists := w.objs[key]
		if w.conflict {
			xmlErr(409, "ConditionalRequestConflict")
			return
		}
		if im := r.Header.Get("If-Match"); im != "" {
			if !exists {
				xmlErr(404, "NoSuchKey")
				return
			}
			if im != `"e-`+cur+`"` {
				xmlErr(412, "PreconditionFailed")
				return
			}
		}
		if r.Header.Get("If-None-Match") == "*" && exists {
			xmlErr(412, "PreconditionFailed")
			return
		}
		w.objs[key] = string(b)
		rw.Header().Set("ETag", `"e-`+string(b)+`"`)
	}
}

func wireStore(t *testing.T, w *s3Wire) *docstore.S3 {
	srv := httptest.NewServer(w)
	t.Cleanup(srv.Close)
	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AK", "SK", ""), RetryMaxAttempts: 1})
	s, err := docstore.NewS3(c, "state")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestS3ContractOverTheWire(t *testing.T) {
	contract(t, wireStore(t, &s3Wire{objs: map[string]string{}}))
}

func TestS3MapsStatusesToTheContract(t *testing.T) {
	ctx := context.Background()
	t.Run("409 conditional conflict is ErrPrecondition", func(t *testing.T) {
		s := wireStore(t, &s3Wire{objs: map[string]string{}, conflict: true})
		if _, err := s.Put(ctx, "k", []byte("x"), docstore.Cond{IfNoneMatch: true}); !errors.Is(err, docstore.ErrPrecondition) {
			t.Fatalf("got %v, want ErrPrecondition", err)
		}
	})
	t.Run("500 is neither not-found nor precondition", func(t *testing.T) {
		s := wireStore(t, &s3Wire{objs: map[string]string{}, status: 500})
		_, err := s.Get(ctx, "k")
		if err == nil || errors.Is(err, docstore.ErrNotFound) || errors.Is(err, docstore.ErrPrecondition) {
			t.Fatalf("get: got %v, want a plain error", err)
		}
		_, err = s.Put(ctx, "k", []byte("x"), docstore.Cond{})
		if err == nil || errors.Is(err, docstore.ErrPrecondition) {
			t.Fatalf("put: got %v, want a plain error", err)
		}
	})
}
