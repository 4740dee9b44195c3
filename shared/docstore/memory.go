package docstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
)

// Memory is an in-memory Store for tests and simulations. Its ETags change with every write
// (a counter and the content hash). SetErr makes every call fail (a copy that cannot be
// reached) and Wipe loses every document (a copy rebuilt empty).
type Memory struct {
	mu   sync.Mutex
	docs map[string]Doc
	n    int
	err  error
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty Memory store.
func NewMemory() *Memory { return &Memory{docs: map[string]Doc{}} }

// SetErr makes every later call fail with err (nil restores the store).
func (m *Memory) SetErr(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.err = err
}

// Wipe forgets every document (a copy lost and rebuilt empty).
func (m *Memory) Wipe() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.docs = map[string]Doc{}
}

// Len is the number of documents held.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.docs)
}

// Get implements Store.
func (m *Memory) Get(_ context.Context, key string) (Doc, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return Doc{}, m.err
	}
	d, ok := m.docs[key]
	if !ok {
		return Doc{}, fmt.Errorf("memory %s: %w", key, ErrNotFound)
	}
	return Doc{Body: append([]byte(nil), d.Body...), ETag: d.ETag}, nil
}

// Put implements Store.
func (m *Memory) Put(_ context.Context, key string, body []byte, c Cond) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return "", m.err
	}
	if m.docs == nil {
		m.docs = map[string]Doc{}
	}
	if err := check(key, c, m.docs[key].ETag, hasKey(m.docs, key)); err != nil {
		return "", err
	}
	m.n++
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:8]) + "-" + strconv.Itoa(m.n) + `"`
	m.docs[key] = Doc{Body: append([]byte(nil), body...), ETag: etag}
	return etag, nil
}

func hasKey(m map[string]Doc, k string) bool { _, ok := m[k]; return ok }

// check applies a Cond to the current state of key (etag, exists): the one rule every
// adapter that checks conditions itself uses.
func check(key string, c Cond, etag string, exists bool) error {
	switch {
	case c.IfNoneMatch && exists:
		return fmt.Errorf("put %s if-none-match: a document exists: %w", key, ErrPrecondition)
	case c.IfMatch != "" && !exists:
		return fmt.Errorf("put %s if-match %s: no document: %w", key, c.IfMatch, ErrPrecondition)
	case c.IfMatch != "" && c.IfMatch != etag:
		return fmt.Errorf("put %s if-match %s: current is %s: %w", key, c.IfMatch, etag, ErrPrecondition)
	}
	return nil
}
