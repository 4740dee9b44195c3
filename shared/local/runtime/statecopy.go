package runtime

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/mrap-engine/mrap/shared/docstore"
	"github.com/mrap-engine/mrap/shared/local/network"
)

// linkedStore is one Region's copy of the failover state (a folder, DATA/state/<region>/)
// as a decider in another Region reaches it: through the link model, so the copy of an out
// Region is unreadable to everyone and an isolated Region's copy only to itself. A request
// over a cut link hangs for the link model's blackhole time (bounded by the caller's
// context), as a read across a partition times out.
type linkedStore struct {
	links    *network.Links
	from, to string
	inner    docstore.Store
	wait     time.Duration
}

var _ docstore.Store = (*linkedStore)(nil)

func (s *linkedStore) reach(ctx context.Context) error {
	err := s.links.Reach(s.from, s.to)
	if err == nil {
		return nil
	}
	t := time.NewTimer(s.wait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return fmt.Errorf("state copy in %s: %w: %w", s.to, err, ctx.Err())
	}
	return fmt.Errorf("state copy in %s: %w", s.to, err)
}

// Get implements docstore.Store.
func (s *linkedStore) Get(ctx context.Context, key string) (docstore.Doc, error) {
	if err := s.reach(ctx); err != nil {
		return docstore.Doc{}, err
	}
	return s.inner.Get(ctx, key)
}

// Put implements docstore.Store.
func (s *linkedStore) Put(ctx context.Context, key string, body []byte, c docstore.Cond) (string, error) {
	if err := s.reach(ctx); err != nil {
		return "", err
	}
	return s.inner.Put(ctx, key, body, c)
}

// openStateCopies opens the state copy of every Region (locally S = the members: every
// decider runs in a member Region and there are no witnesses): a folder, or with
// StateInBuckets the Region's member bucket.
func (rt *Runtime) openStateCopies() error {
	rt.stateCopies = map[string]docstore.Store{}
	for _, r := range rt.opts.Regions {
		if reg := rt.region(r); rt.opts.StateInBuckets && reg != nil {
			s, err := docstore.NewS3(reg.server.Client(), reg.server.Bucket)
			if err != nil {
				return fmt.Errorf("state copy of %s: %w", r, err)
			}
			rt.stateCopies[r] = s
			continue
		}
		d, err := docstore.NewDir(filepath.Join(rt.opts.DataDir, "state", r))
		if err != nil {
			return fmt.Errorf("state copy of %s: %w", r, err)
		}
		rt.stateCopies[r] = d
	}
	return nil
}

// stateCopiesFrom are the state copies as the decider in Region `from` reaches them.
func (rt *Runtime) stateCopiesFrom(from string) map[string]docstore.Store {
	out := map[string]docstore.Store{}
	for r, s := range rt.stateCopies {
		out[r] = &linkedStore{links: rt.links, from: from, to: r, inner: s, wait: network.DefaultBlackhole}
	}
	return out
}
