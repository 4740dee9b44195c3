package docstore

import (
	"context"
	"errors"
	"path/filepath"
)

// Document is one key of a Store read and written whole, by one writer at a time: the
// shape of the reconcile checkpoint (reconcile.CheckpointStore). Load returns the version it
// read; SaveIf writes only over that version, so a second writer that started from the same
// version is refused (ErrPrecondition) instead of silently undoing the first one's progress.
type Document struct {
	Store Store
	Key   string
}

// Load returns the document's body and version (ETag), or nil, "" and no error when there is
// none yet.
func (d Document) Load(ctx context.Context) ([]byte, string, error) {
	doc, err := d.Store.Get(ctx, d.Key)
	if errors.Is(err, ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	return doc.Body, doc.ETag, nil
}

// SaveIf replaces the document only when its version is still etag (etag "": only when
// there is none) and returns the new version; ErrPrecondition when another writer saved it
// since. A store that refuses conditions altogether (ErrConditionsUnsupported) is written
// without one: the guard is lost there, not the document.
func (d Document) SaveIf(ctx context.Context, body []byte, etag string) (string, error) {
	c := Cond{IfMatch: etag, IfNoneMatch: etag == ""}
	v, err := d.Store.Put(ctx, d.Key, body, c)
	if errors.Is(err, ErrConditionsUnsupported) {
		return d.Store.Put(ctx, d.Key, body, Cond{})
	}
	return v, err
}

// Save replaces the document whatever its version (an operator's reset).
func (d Document) Save(ctx context.Context, body []byte) error {
	_, err := d.Store.Put(ctx, d.Key, body, Cond{})
	return err
}

// File is the Document of one local file (its folder is a Dir, its name the key): written
// to a temporary file and renamed over it.
func File(path string) (Document, error) {
	dir, err := NewDir(filepath.Dir(path))
	if err != nil {
		return Document{}, err
	}
	return Document{Store: dir, Key: filepath.Base(path)}, nil
}

// Object is the Document of one S3 object.
func Object(client ObjectAPI, bucket, key string) (Document, error) {
	s, err := NewS3(client, bucket)
	if err != nil {
		return Document{}, err
	}
	return Document{Store: s, Key: key}, nil
}
