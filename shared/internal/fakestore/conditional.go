package fakestore

import (
	"context"
	"fmt"

	"github.com/mrap-engine/mrap/shared/replication"
)

// Conditional is a Store that honours write conditions (replication.ConditionalStore). Its
// writes check their condition under the store lock, like S3's PutObject.
type Conditional struct {
	*Store
	// NotAtomic: Atomic answers false (the engine verifies after every write).
	NotAtomic bool
	// RefuseAbsentOverMarker mimics versitygw v1.8.0, which fails If-None-Match when the
	// current version is a delete marker.
	RefuseAbsentOverMarker bool
	// IgnoreConditions mimics a store that accepts the headers but does not check them.
	IgnoreConditions bool
	// AtomicFor, when set, answers Atomic instead of NotAtomic.
	AtomicFor func(region string, deleteMarker bool, size int64) bool
}

var (
	_ replication.ConditionalStore = (*Conditional)(nil)
	_ replication.MarkerStore      = (*Conditional)(nil)
)

// Atomic implements replication.ConditionalStore.
func (c *Conditional) Atomic(region string, deleteMarker bool, size int64) bool {
	if c.AtomicFor != nil {
		return c.AtomicFor(region, deleteMarker, size)
	}
	return !c.NotAtomic
}

// check reports whether cond holds for the current version of key; the caller holds mu.
func (c *Conditional) check(region, key string, cond replication.Condition) error {
	if c.IgnoreConditions || cond.IsZero() {
		return nil
	}
	cur := c.current(region, key)
	object := cur.Exists && !cur.DeleteMarker
	switch {
	case cond.IfAbsent && c.RefuseAbsentOverMarker && cur.DeleteMarker:
		return fmt.Errorf("412 over a delete marker: %w", replication.ErrConditionFailed)
	case cond.IfAbsent && object:
		return fmt.Errorf("412 If-None-Match: %w", replication.ErrConditionFailed)
	case cond.IfMatch != "" && (!object || cur.ETag != cond.IfMatch):
		return fmt.Errorf("412 If-Match %s: %w", cond.IfMatch, replication.ErrConditionFailed)
	}
	return nil
}

// Copy implements replication.Store, checking req.Condition.
func (c *Conditional) Copy(_ context.Context, req replication.CopyRequest) (int64, error) {
	if err := c.record("Copy", req.DestRegion); err != nil {
		return 0, err
	}
	c.hook(req.DestRegion, req.Key)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.check(req.DestRegion, req.Key, req.Condition); err != nil {
		return 0, err
	}
	return c.copy(req)
}

// PutDeleteMarkerIf implements replication.ConditionalStore.
func (c *Conditional) PutDeleteMarkerIf(_ context.Context, region, _, key string, cond replication.Condition) error {
	return c.putMarker(region, key, nil, cond)
}

// PutReplicaDeleteMarker implements replication.MarkerStore, checking cond.
func (c *Conditional) PutReplicaDeleteMarker(_ context.Context, region, _, key string, origin replication.Origin, cond replication.Condition) error {
	return c.putMarker(region, key, origin.Marks(), cond)
}

func (c *Conditional) putMarker(region, key string, marks map[string]string, cond replication.Condition) error {
	if err := c.record("PutDeleteMarker", region); err != nil {
		return err
	}
	c.hook(region, key)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.check(region, key, cond); err != nil {
		return err
	}
	c.write(region, key, replication.Version{DeleteMarker: true, Metadata: marks}, "")
	return nil
}
