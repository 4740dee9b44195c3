package docstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Dir is a Store of files under one folder (the local runtime's state copies). A write goes
// to a temporary file renamed over the document, so a reader sees the old or the new
// document, never half of one; conditions are checked under a lock held across the check
// and the rename (one process writes a folder). The ETag is the content's SHA-256.
type Dir struct {
	root string
	mu   sync.Mutex
}

var _ Store = (*Dir)(nil)

// NewDir returns a Store of the files under root (created on first write).
func NewDir(root string) (*Dir, error) {
	if root == "" {
		return nil, errors.New("docstore dir: folder is required")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("docstore dir %s: %w", root, err)
	}
	return &Dir{root: abs}, nil
}

func (d *Dir) path(key string) (string, error) {
	clean := filepath.Clean("/" + key)
	if key == "" || strings.HasSuffix(key, "/") || clean == "/" || clean != "/"+key {
		return "", fmt.Errorf("docstore dir: key %q is not a clean relative path", key)
	}
	return filepath.Join(d.root, filepath.FromSlash(key)), nil
}

// Get implements Store.
func (d *Dir) Get(ctx context.Context, key string) (Doc, error) {
	if err := ctx.Err(); err != nil {
		return Doc{}, err
	}
	p, err := d.path(key)
	if err != nil {
		return Doc{}, err
	}
	return readFile(p, key)
}

func readFile(p, key string) (Doc, error) {
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return Doc{}, fmt.Errorf("dir %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return Doc{}, fmt.Errorf("dir %s: %w", key, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return Doc{}, fmt.Errorf("dir %s: %w", key, err)
	}
	if len(b) > MaxSize {
		return Doc{}, fmt.Errorf("dir %s: larger than %d bytes", key, MaxSize)
	}
	return Doc{Body: b, ETag: etagOf(b)}, nil
}

func etagOf(b []byte) string {
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

// Put implements Store.
func (d *Dir) Put(ctx context.Context, key string, body []byte, c Cond) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	p, err := d.path(key)
	if err != nil {
		return "", err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if c.IfMatch != "" || c.IfNoneMatch {
		cur, err := readFile(p, key)
		exists := err == nil
		if err != nil && !errors.Is(err, ErrNotFound) {
			return "", err
		}
		if err := check(key, c, cur.ETag, exists); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", fmt.Errorf("dir %s: %w", key, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return "", fmt.Errorf("dir %s: %w", key, err)
	}
	_, werr := tmp.Write(body)
	if serr := tmp.Sync(); werr == nil {
		werr = serr
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), p)
	}
	if werr != nil {
		_ = os.Remove(tmp.Name())
		return "", fmt.Errorf("dir %s: %w", key, werr)
	}
	return etagOf(body), nil
}
