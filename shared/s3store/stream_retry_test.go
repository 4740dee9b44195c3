package s3store

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mrap-engine/mrap/events"
	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/replication"
)

// flakyS3 serves one source object and fails the first failPuts PUTs with 500 InternalError
// (after reading their bodies), recording the bytes each PUT delivered.
type flakyS3 struct {
	*httptest.Server
	mu       sync.Mutex
	body     []byte
	failPuts int
	gets     int
	puts     []int // bytes received by each PUT
}

func newFlakyS3(t *testing.T, body []byte, failPuts int) *flakyS3 {
	f := &flakyS3{body: body, failPuts: failPuts}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		switch r.Method {
		case http.MethodGet:
			f.gets++
			w.Header().Set("x-amz-version-id", "v1")
			w.Header().Set("ETag", `"e"`)
			w.Header().Set("Content-Length", strconv.Itoa(len(f.body)))
			_, _ = w.Write(f.body)
		case http.MethodPut:
			got, _ := io.ReadAll(r.Body)
			f.puts = append(f.puts, len(got))
			if len(f.puts) <= f.failPuts {
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = io.WriteString(w, `<Error><Code>InternalError</Code><Message>disk on fire</Message><RequestId>R</RequestId></Error>`)
				return
			}
			w.Header().Set("ETag", `"e"`)
			w.WriteHeader(http.StatusOK)
		case http.MethodHead: // the destination: no such key (a bare 404, as S3 sends it)
			w.WriteHeader(http.StatusNotFound)
		default:
			w.WriteHeader(http.StatusNotImplemented)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func TestStreamedCopiesRetryTransientFailures(t *testing.T) {
	small := bytes.Repeat([]byte("a"), 1024)
	big := bytes.Repeat([]byte("b"), int(6*MiB)) // above the 5 MiB part size: not buffered
	tests := []struct {
		name     string
		body     []byte
		failPuts int
		attempts int // SDK attempts per request
		wantErr  string
		wantGets int
		wantPuts int
	}{
		{name: "seekable body: the SDK retries the PUT", body: small, failPuts: 2, attempts: 5, wantGets: 1, wantPuts: 3},
		{name: "seekable body: a 500 after every retry is a failure with the server's status, code and message", body: small, failPuts: 99, attempts: 3,
			wantErr: "StatusCode: 500", wantGets: 1, wantPuts: 3},
		{name: "above the part size: the whole copy is made again from a new GET", body: big, failPuts: 2, attempts: 1, wantGets: 3, wantPuts: 3},
		{name: "above the part size: the copy gives up after three tries", body: big, failPuts: 99, attempts: 1, wantErr: "disk on fire", wantGets: 3, wantPuts: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFlakyS3(t, tt.body, tt.failPuts)
			c := clientFor(&s3Server{Server: srv.Server}, tt.attempts)
			store, err := New(map[string]S3API{"eu-west-1": c, "us-east-1": c}, Options{PartSize: 5 * MiB, MultipartThreshold: 64 * MiB})
			if err != nil {
				t.Fatal(err)
			}
			req := copyRequest(int64(len(tt.body)))
			n, err := store.Copy(context.Background(), req)
			srv.mu.Lock()
			defer srv.mu.Unlock()
			if tt.wantErr == "" {
				if err != nil || n != int64(len(tt.body)) {
					t.Fatalf("Copy = %d, %v; want %d bytes", n, err, len(tt.body))
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "InternalError") {
					t.Fatalf("Copy error %v; want one naming %q and InternalError", err, tt.wantErr)
				}
				if replication.IsPermanent(err) {
					t.Errorf("a 500 is not permanent: %v", err)
				}
			}
			if srv.gets != tt.wantGets || len(srv.puts) != tt.wantPuts {
				t.Errorf("%d GETs, %d PUTs; want %d, %d", srv.gets, len(srv.puts), tt.wantGets, tt.wantPuts)
			}
			for i, got := range srv.puts {
				if got != len(tt.body) {
					t.Errorf("PUT %d delivered %d bytes, want the whole %d", i+1, got, len(tt.body))
				}
			}
		})
	}
}

// Through the engine: a destination that answers 500 to every PUT attempt fails the record
// with the server's status, code and message (what the replicator logs), retryable, after
// the SDK's retries; the source is read once.
func TestEngineReportsAPersistent500WithTheServersMessage(t *testing.T) {
	srv := newFlakyS3(t, []byte("hello"), 99)
	c := clientFor(&s3Server{Server: srv.Server}, 3)
	store, err := New(map[string]S3API{"eu-west-1": c, "us-east-1": c}, Options{TrustNotFound: true})
	if err != nil {
		t.Fatal(err)
	}
	e, err := replication.New(store, []config.Member{{Region: "eu-west-1", Bucket: "src"}, {Region: "us-east-1", Bucket: "dst"}}, replication.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Apply(context.Background(), events.ObjectChange{Region: "eu-west-1", Bucket: "src", Key: "k", RawKey: "k", VersionID: "v1", Size: 5,
		Kind: events.Created, Reason: events.ReasonPutObject})
	if err == nil || len(res.Destinations) != 1 || res.Destinations[0].Status != replication.Failed {
		t.Fatalf("Apply = %+v, %v; want the destination failed", res, err)
	}
	msg := res.Destinations[0].Err.Error()
	for _, want := range []string{"StatusCode: 500", "InternalError", "disk on fire", "put object"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if replication.IsPermanent(err) {
		t.Errorf("a 500 is retryable: %v", err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.puts) != 3 || srv.gets != 1 {
		t.Errorf("%d PUTs, %d GETs; want the SDK's 3 attempts over one source read", len(srv.puts), srv.gets)
	}
}
