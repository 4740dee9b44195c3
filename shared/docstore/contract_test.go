package docstore_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mrap-engine/mrap/shared/docstore"
)

// contract is the behaviour every Store must have; each adapter's test runs it.
func contract(t *testing.T, s docstore.Store) {
	ctx := context.Background()
	key := "deciders/us-east-1.json"
	t.Run("get of an absent key is ErrNotFound", func(t *testing.T) {
		if _, err := s.Get(ctx, "absent/none.json"); !errors.Is(err, docstore.ErrNotFound) {
			t.Fatalf("got %v, want ErrNotFound", err)
		}
	})
	t.Run("if-match on an absent key is ErrPrecondition and writes nothing", func(t *testing.T) {
		if _, err := s.Put(ctx, "absent/match.json", []byte("x"), docstore.Cond{IfMatch: `"abc"`}); !errors.Is(err, docstore.ErrPrecondition) {
			t.Fatalf("got %v, want ErrPrecondition", err)
		}
		if _, err := s.Get(ctx, "absent/match.json"); !errors.Is(err, docstore.ErrNotFound) {
			t.Fatalf("after a refused put: got %v, want ErrNotFound", err)
		}
	})
	var first string
	t.Run("if-none-match creates once", func(t *testing.T) {
		var err error
		first, err = s.Put(ctx, key, []byte(`{"seq":1}`), docstore.Cond{IfNoneMatch: true})
		if err != nil || first == "" {
			t.Fatalf("create: etag %q err %v", first, err)
		}
		if _, err := s.Put(ctx, key, []byte(`{"seq":9}`), docstore.Cond{IfNoneMatch: true}); !errors.Is(err, docstore.ErrPrecondition) {
			t.Fatalf("second create: got %v, want ErrPrecondition", err)
		}
		d, err := s.Get(ctx, key)
		if err != nil || string(d.Body) != `{"seq":1}` || d.ETag != first {
			t.Fatalf("get: %q %q %v, want the first body and etag %q", d.Body, d.ETag, err, first)
		}
	})
	t.Run("if-match replaces only the version read", func(t *testing.T) {
		second, err := s.Put(ctx, key, []byte(`{"seq":2}`), docstore.Cond{IfMatch: first})
		if err != nil || second == first {
			t.Fatalf("put if-match: etag %q (first %q) err %v", second, first, err)
		}
		if _, err := s.Put(ctx, key, []byte(`{"seq":3}`), docstore.Cond{IfMatch: first}); !errors.Is(err, docstore.ErrPrecondition) {
			t.Fatalf("stale if-match: got %v, want ErrPrecondition", err)
		}
		d, err := s.Get(ctx, key)
		if err != nil || string(d.Body) != `{"seq":2}` || d.ETag != second {
			t.Fatalf("get: %q %q %v, want seq 2 and etag %q", d.Body, d.ETag, err, second)
		}
	})
	t.Run("an unconditional put overwrites", func(t *testing.T) {
		if _, err := s.Put(ctx, key, []byte(`{"seq":4}`), docstore.Cond{}); err != nil {
			t.Fatal(err)
		}
		d, err := s.Get(ctx, key)
		if err != nil || string(d.Body) != `{"seq":4}` {
			t.Fatalf("get: %q %v", d.Body, err)
		}
	})
	t.Run("concurrent if-none-match creates exactly one", func(t *testing.T) {
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				_, err := s.Put(ctx, "race/one.json", []byte{byte('a' + i)}, docstore.Cond{IfNoneMatch: true})
				switch {
				case err == nil:
					wins.Add(1)
				case !errors.Is(err, docstore.ErrPrecondition):
					t.Errorf("racer %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		if got := wins.Load(); got != 1 {
			t.Fatalf("got %d winners, want 1", got)
		}
	})
}

func TestMemoryContract(t *testing.T) { contract(t, docstore.NewMemory()) }

func TestDirContract(t *testing.T) {
	d, err := docstore.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	contract(t, d)
}

func TestDirRejectsKeysOutsideItsFolder(t *testing.T) {
	d, err := docstore.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"", "../x.json", "a/../../x", "/abs", "dir/"} {
		if _, err := d.Put(context.Background(), key, []byte("x"), docstore.Cond{}); err == nil {
			t.Errorf("put %q: want an error", key)
		}
	}
}

func TestMemoryUnreachableFailsEveryCall(t *testing.T) {
	m := docstore.NewMemory()
	cut := errors.New("link cut")
	m.SetErr(cut)
	if _, err := m.Get(context.Background(), "k"); !errors.Is(err, cut) {
		t.Fatalf("get: %v", err)
	}
	if _, err := m.Put(context.Background(), "k", nil, docstore.Cond{}); !errors.Is(err, cut) {
		t.Fatalf("put: %v", err)
	}
	m.SetErr(nil)
	if m.Len() != 0 {
		t.Fatalf("a failed put wrote a document")
	}
}
