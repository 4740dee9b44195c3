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
// save, then the last body saved, including an empty one (a reset); SaveIf over the version
// read, and a second writer that started from the same version refused, changing nothing.
func documentRoundTrip(t *testing.T, d docstore.Document) {
	t.Helper()
	ctx := context.Background()
	if b, v, err := d.Load(ctx); err != nil || b != nil || v != "" {
		t.Fatalf("load before any save = %q, %q, %v; want nothing", b, v, err)
	}
	v0, err := d.SaveIf(ctx, []byte(`{"after":"k0"}`), "")
	if err != nil {
		t.Fatalf("first save: %v", err)
	}
	if _, err := d.SaveIf(ctx, []byte(`{"after":"other"}`), ""); !errors.Is(err, docstore.ErrPrecondition) {
		t.Fatalf("a second first save: %v, want ErrPrecondition", err)
	}
	v1, err := d.SaveIf(ctx, []byte(`{"after":"k1"}`), v0)
	if err != nil {
		t.Fatalf("save over the version read: %v", err)
	}
	if _, err := d.SaveIf(ctx, []byte(`{"after":"stale"}`), v0); !errors.Is(err, docstore.ErrPrecondition) {
		t.Fatalf("save over a version another writer replaced: %v, want ErrPrecondition", err)
	}
	if b, v, err := d.Load(ctx); err != nil || string(b) != `{"after":"k1"}` || v != v1 {
		t.Fatalf("load = %q, %q, %v; want the second writer refused", b, v, err)
	}
	for _, body := range []string{`{"after":"k2"}`, ``} {
		if err := d.Save(ctx, []byte(body)); err != nil {
			t.Fatal(err)
		}
		if b, _, err := d.Load(ctx); err != nil || string(b) != body {
			t.Fatalf("load = %q, %v; want %q", b, err, body)
		}
	}
}

// noConditions is a store that refuses every write condition, as some S3-compatible stores do.
type noConditions struct{ *docstore.Memory }

func (n noConditions) Put(ctx context.Context, key string, body []byte, c docstore.Cond) (string, error) {
	if c != (docstore.Cond{}) {
		return "", docstore.ErrConditionsUnsupported
	}
	return n.Memory.Put(ctx, key, body, c)
}

func TestDocumentOnAStoreWithoutConditionsIsWrittenWithout(t *testing.T) {
	d := docstore.Document{Store: noConditions{docstore.NewMemory()}, Key: "cp.json"}
	ctx := context.Background()
	if _, err := d.SaveIf(ctx, []byte("a"), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := d.SaveIf(ctx, []byte("b"), "any"); err != nil {
		t.Fatal(err)
	}
	if b, _, _ := d.Load(ctx); string(b) != "b" {
		t.Errorf("load = %q, want b", b)
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
	if _, _, err := d.Load(context.Background()); !errors.Is(err, boom) {
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
	if _, _, err := bad.Load(context.Background()); err == nil {
		t.Error("load from a missing bucket succeeded")
	}
	if _, err := docstore.Object(nil, "b", "k"); err == nil {
		t.Error("a document without a client was accepted")
	}
}
