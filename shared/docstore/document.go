package docstore

import (
	"context"
	"errors"
	"path/filepath"
)

// Document is one key of a Store, read and written whole without conditions: the shape of
// a single-writer document such as the reconcile checkpoint (reconcile.CheckpointStore).
type Document struct {
	Store Store
	Key   string
}

// Load returns the document's body, or nil and no error when there is none yet.
func (d Document) Load(ctx context.Context) ([]byte, error) {
	doc, err := d.Store.Get(ctx, d.Key)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return doc.Body, nil
}

// Save replaces the document.
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
