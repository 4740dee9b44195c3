package docstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mrap-engine/mrap/shared/docstore"
	"github.com/mrap-engine/mrap/shared/local/s3server"
	"github.com/mrap-engine/mrap/shared/local/s3server/s3servertest"
)

// documentRoundTrip is what a Document must do over any store: nothing before the first
// save, then the last body saved, including an empty one (a reset).
func documentRoundTrip(t *testing.T, d docstore.Document) {
	t.Helper()
	ctx := context.Background()
	if b, err := d.Load(ctx); err != nil || b != nil {
		t.Fatalf("load before any save = %q, %v; want nothing", b, err)
	}
	for _, body := range []string{`{"after":"k0"}`, `{"after":"k1"}`, ``} {
		if err := d.Save(ctx, []byte(body)); err != nil {
			t.Fatal(err)
		}
		if b, err := d.Load(ctx); err != nil || string(b) != body {
			t.Fatalf("load = %q, %v; want %q", b, err, body)
		}
	}
}

func TestFileDocument(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cp", "reconcile.json")
	d, err := docstore.File(path)
	if err != nil {
		t.Fatal(err)
	}
	documentRoundTrip(t, d)
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the document is not the file %s: %v", path, err)
	}
}

func TestMemoryDocumentPassesStoreErrorsOn(t *testing.T) {
	m := docstore.NewMemory()
	d := docstore.Document{Store: m, Key: "cp.json"}
	documentRoundTrip(t, d)
	boom := errors.New("store down")
	m.SetErr(boom)
	if _, err := d.Load(context.Background()); !errors.Is(err, boom) {
		t.Errorf("load with a failing store: %v, want %v", err, boom)
	}
	if err := d.Save(context.Background(), []byte("x")); !errors.Is(err, boom) {
		t.Errorf("save with a failing store: %v, want %v", err, boom)
	}
}

// TestObjectDocumentAgainstVersitygw round-trips a checkpoint object and checks that a
// missing bucket is an error, not an empty document (the pass would restart every time).
func TestObjectDocumentAgainstVersitygw(t *testing.T) {
	srv := s3servertest.Start(t, s3server.Options{Region: "us-east-1"})
	d, err := docstore.Object(srv.Client(), srv.Bucket, ".mrap-reconcile/checkpoint.json")
	if err != nil {
		t.Fatal(err)
	}
	documentRoundTrip(t, d)
	bad, err := docstore.Object(srv.Client(), "no-such-bucket", "k")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Load(context.Background()); err == nil {
		t.Error("load from a missing bucket succeeded")
	}
	if _, err := docstore.Object(nil, "b", "k"); err == nil {
		t.Error("a document without a client was accepted")
	}
}
