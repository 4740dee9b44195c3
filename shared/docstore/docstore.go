// Package docstore is the engine's one port for small JSON documents (failover records,
// reconcile checkpoints): Get and a conditional Put (If-Match / If-None-Match), with one S3
// adapter, one directory adapter and an in-memory one for tests. Every adapter answers the
// same contract (ErrNotFound, ErrPrecondition), checked by one contract test over all three.
package docstore

import (
	"context"
	"errors"
)

// ErrNotFound is returned by Get when the key holds no document.
var ErrNotFound = errors.New("document not found")

// ErrPrecondition is returned by Put when its condition does not hold: If-Match names an
// ETag that is not the current one (or the key is absent), or If-None-Match finds a document.
var ErrPrecondition = errors.New("document precondition failed")

// ErrConditionsUnsupported is returned by Put when the store refuses write conditions
// altogether (501 Not Implemented: some S3-compatible stores), as opposed to a condition that
// does not hold.
var ErrConditionsUnsupported = errors.New("store does not support conditional writes")

// MaxSize is the largest document the adapters read (1 MiB): the documents are small
// records, and a larger object is an error rather than a memory blow-up.
const MaxSize = 1 << 20

// Doc is one stored document and its entity tag.
type Doc struct {
	Body []byte
	// ETag identifies this version of the document, for a later Put's Cond.IfMatch.
	ETag string
}

// Cond is the condition of a Put. The zero Cond writes unconditionally.
type Cond struct {
	// IfMatch writes only when the current document's ETag equals it.
	IfMatch string
	// IfNoneMatch writes only when the key holds no document.
	IfNoneMatch bool
}

// Store reads and writes documents by key.
type Store interface {
	// Get returns the document at key, or ErrNotFound when there is none.
	Get(ctx context.Context, key string) (Doc, error)
	// Put writes body at key under c and returns the new ETag, or ErrPrecondition.
	Put(ctx context.Context, key string, body []byte, c Cond) (etag string, err error)
}
