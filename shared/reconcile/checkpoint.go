package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mrap-engine/mrap/shared/docstore"
)

// CheckpointStore keeps one checkpoint document: a docstore.Document (a local file or an S3
// object). One pass writes it at a time: each save is conditional on the version the pass
// read or last wrote, so a second pass over the same checkpoint (the scheduled reconciler
// and an operator's mrapctl reconcile) stops at its next save instead of undoing the first
// one's progress.
type CheckpointStore interface {
	// Load returns the document and its version, or nil, "" and no error when there is none.
	Load(ctx context.Context) (doc []byte, version string, err error)
	// SaveIf replaces the document only when its version is still version ("": only when
	// there is none) and returns the new version; docstore.ErrPrecondition when another
	// writer saved it since.
	SaveIf(ctx context.Context, doc []byte, version string) (string, error)
}

// ErrConcurrentPass is the error of a run whose checkpoint another pass saved since this run
// read it: the run stops, and what it saved before stands.
var ErrConcurrentPass = errors.New("another reconcile pass saved this checkpoint since this run read it: run one pass at a time over a checkpoint (the scheduled reconciler and mrapctl reconcile share the state bucket's), or give this one a checkpoint of its own (--checkpoint)")

// Scope is the part of the key space a run covers.
type Scope struct {
	Prefix     string `json:"prefix,omitempty"`
	StartAfter string `json:"start_after,omitempty"` // exclusive lower bound
	End        string `json:"end,omitempty"`         // exclusive upper bound
}

// Checkpoint is the state of a pass over a Scope, saved after each batch.
type Checkpoint struct {
	Version  int       `json:"version"`
	Scope    Scope     `json:"scope"`
	After    string    `json:"after,omitempty"` // every key up to this one is done
	Complete bool      `json:"complete"`
	Started  time.Time `json:"started"`
	Updated  time.Time `json:"updated"`
	Counts   Counts    `json:"counts"`
	// LastTotalKeys is the keys scanned by the previous complete pass (the ETA estimate).
	LastTotalKeys int64 `json:"last_total_keys,omitempty"`
	Runs          int   `json:"runs"` // invocations that worked on this pass
	// Index is where the verified-versions index of this pass and of the last complete one
	// stand (nil: no index; a checkpoint from before the index reads as none).
	Index *IndexState `json:"index,omitempty"`
}

// checkpointVersion is the document version written.
const checkpointVersion = 1

func loadCheckpoint(ctx context.Context, cs CheckpointStore) (Checkpoint, string, bool, error) {
	if cs == nil {
		return Checkpoint{}, "", false, nil
	}
	doc, version, err := cs.Load(ctx)
	if err != nil {
		return Checkpoint{}, "", false, fmt.Errorf("load checkpoint: %w", err)
	}
	if len(doc) == 0 {
		return Checkpoint{}, version, false, nil
	}
	var cp Checkpoint
	if err := json.Unmarshal(doc, &cp); err != nil {
		return Checkpoint{}, "", false, fmt.Errorf("checkpoint is not a reconcile checkpoint: %w", err)
	}
	if cp.Version != checkpointVersion {
		return Checkpoint{}, "", false, fmt.Errorf("checkpoint version %d, want %d", cp.Version, checkpointVersion)
	}
	return cp, version, true, nil
}

// saveCheckpoint writes cp over version and returns the new version.
func saveCheckpoint(ctx context.Context, cs CheckpointStore, cp Checkpoint, version string) (string, error) {
	if cs == nil {
		return "", nil
	}
	cp.Version = checkpointVersion
	doc, err := json.MarshalIndent(cp, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode checkpoint: %w", err)
	}
	v, err := cs.SaveIf(ctx, doc, version)
	if errors.Is(err, docstore.ErrPrecondition) {
		return "", fmt.Errorf("save checkpoint: %w (%w)", ErrConcurrentPass, err)
	}
	if err != nil {
		return "", fmt.Errorf("save checkpoint: %w", err)
	}
	return v, nil
}
