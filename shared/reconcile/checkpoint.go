package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// CheckpointStore keeps one checkpoint document: a docstore.Document (a local file or an S3
// object).
type CheckpointStore interface {
	// Load returns the document, or nil and no error when there is none yet.
	Load(ctx context.Context) ([]byte, error)
	// Save replaces the document.
	Save(ctx context.Context, doc []byte) error
}

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

func loadCheckpoint(ctx context.Context, cs CheckpointStore) (Checkpoint, bool, error) {
	if cs == nil {
		return Checkpoint{}, false, nil
	}
	doc, err := cs.Load(ctx)
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("load checkpoint: %w", err)
	}
	if len(doc) == 0 {
		return Checkpoint{}, false, nil
	}
	var cp Checkpoint
	if err := json.Unmarshal(doc, &cp); err != nil {
		return Checkpoint{}, false, fmt.Errorf("checkpoint is not a reconcile checkpoint: %w", err)
	}
	if cp.Version != checkpointVersion {
		return Checkpoint{}, false, fmt.Errorf("checkpoint version %d, want %d", cp.Version, checkpointVersion)
	}
	return cp, true, nil
}

func saveCheckpoint(ctx context.Context, cs CheckpointStore, cp Checkpoint) error {
	if cs == nil {
		return nil
	}
	cp.Version = checkpointVersion
	doc, err := json.MarshalIndent(cp, "", "  ")
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	if err := cs.Save(ctx, doc); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	return nil
}
