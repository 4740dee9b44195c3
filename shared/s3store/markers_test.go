package s3store

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/shared/replication"
)

// TestDeleteMarkerRecordRequests pins the extra requests of the marker records: one PutObject
// per delete marker the engine writes, one GetObject per delete marker read, none elsewhere.
func TestDeleteMarkerRecordRequests(t *testing.T) {
	origin := replication.Origin{Region: "us-east-1", VersionID: "D", Time: time.Date(2026, 11, 25, 19, 0, 10, 0, time.UTC)}
	srv := newS3Server(t, func(w http.ResponseWriter, r *http.Request, op string) {
		switch {
		case op == http.MethodDelete:
			w.Header().Set("x-amz-delete-marker", "true")
			w.Header().Set("x-amz-version-id", "M1")
			w.WriteHeader(http.StatusNoContent)
		case op == http.MethodPut && strings.Contains(r.URL.Path, "/denied/"):
			w.WriteHeader(http.StatusInternalServerError)
		case op == http.MethodPut:
			w.WriteHeader(http.StatusOK)
		case op == "HeadObject" && strings.HasSuffix(r.URL.Path, "/k"):
			w.Header().Set("x-amz-delete-marker", "true")
			w.Header().Set("x-amz-version-id", "M1")
			w.WriteHeader(http.StatusNotFound)
		case op == http.MethodGet && strings.HasSuffix(r.URL.Path, MarkerRecordKey("k", "M1")):
			for k, v := range origin.Marks() {
				w.Header().Set("x-amz-meta-"+k, v)
			}
			_, _ = w.Write([]byte("k"))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	})
	store, err := New(map[string]S3API{"eu-west-1": clientFor(srv, 1)}, Options{TrustNotFound: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := store.PutReplicaDeleteMarker(ctx, "eu-west-1", "b", "k", origin, replication.Condition{IfMatch: `"e"`}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(srv.calls, ","); got != "DELETE,PUT" {
		t.Errorf("calls %s, want DELETE,PUT (the marker, then its record)", got)
	}
	srv.calls = nil
	cur, err := store.Head(ctx, "eu-west-1", "b", "k")
	if err != nil || replication.DestinationOrigin("eu-west-1", cur) != origin {
		t.Errorf("Head = %+v, %v; want the recorded origin %v", cur, err, origin)
	}
	if got := strings.Join(srv.calls, ","); got != "HeadObject,GET" {
		t.Errorf("calls %s, want HeadObject,GET", got)
	}
	err = store.PutReplicaDeleteMarker(ctx, "eu-west-1", "denied", "k", origin, replication.Condition{})
	if err == nil || !strings.Contains(err.Error(), "record delete marker M1") {
		t.Errorf("a record that cannot be written: %v, want an error naming the marker", err)
	}
}
