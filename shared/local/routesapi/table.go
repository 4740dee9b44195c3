// Package routesapi is the local stand-in for the S3 Multi-Region Access Point routes API:
// a persisted routing table and an HTTP handler speaking the s3control wire format of
// GetMultiRegionAccessPointRoutes and SubmitMultiRegionAccessPointRoutes, so the stock AWS
// CLI and SDKs work against it.
package routesapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// Route is one member of the access point and its traffic dial (0 passive, 100 active).
type Route struct {
	Region string `json:"region"`
	Bucket string `json:"bucket"`
	Dial   int    `json:"traffic_dial_percentage"`
}

// Update is one requested route change; Region or Bucket (or both) names the member.
type Update struct {
	Region string
	Bucket string
	Dial   int
}

// ErrInvalidRequest marks a rejected route change; the message says why. The routes API
// answers it with the code AWS uses, InvalidRequest.
var ErrInvalidRequest = errors.New("invalid request")

// Table is the routing table of one access point, saved to a JSON file on every change.
// It is safe for concurrent use.
type Table struct {
	mu       sync.RWMutex
	path     string
	routes   []Route
	watchers []chan struct{}
}

type tableFile struct {
	Routes []Route `json:"routes"`
}

// Open loads the table saved at path, or starts it from initial (every member active unless
// initial says otherwise) when the file does not exist. Members found in the file but not in
// initial are dropped; members of initial missing from the file are added with their dial.
func Open(path string, initial []Route) (*Table, error) {
	if len(initial) == 0 {
		return nil, fmt.Errorf("open routes table: no members")
	}
	t := &Table{path: path, routes: slices.Clone(initial)}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return t, t.save()
	case err != nil:
		return nil, fmt.Errorf("open routes table: %w", err)
	}
	var f tableFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("open routes table %s: %w", path, err)
	}
	for i, r := range t.routes {
		for _, saved := range f.Routes {
			if saved.Region == r.Region && saved.Bucket == r.Bucket {
				t.routes[i].Dial = saved.Dial
			}
		}
	}
	if !anyActive(t.routes) {
		for i := range t.routes {
			t.routes[i].Dial = 100
		}
	}
	return t, t.save()
}

// Routes returns a copy of the current routes in member order.
func (t *Table) Routes() []Route {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return slices.Clone(t.routes)
}

// Dial returns the traffic dial of region and whether region is a member.
func (t *Table) Dial(region string) (int, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, r := range t.routes {
		if r.Region == region {
			return r.Dial, true
		}
	}
	return 0, false
}

// Changed returns a channel closed at the next change of the table.
func (t *Table) Changed() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	ch := make(chan struct{})
	t.watchers = append(t.watchers, ch)
	return ch
}

// Submit applies updates the way SubmitMultiRegionAccessPointRoutes does: members left out
// keep their dial, and a result with no active member is rejected. Nothing changes when any
// update is invalid.
func (t *Table) Submit(updates []Update) error {
	if len(updates) == 0 {
		return fmt.Errorf("%w: RouteUpdates must name at least one route", ErrInvalidRequest)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	next := slices.Clone(t.routes)
	for _, u := range updates {
		if u.Dial < 0 || u.Dial > 100 {
			return fmt.Errorf("%w: TrafficDialPercentage must be between 0 and 100, got %d", ErrInvalidRequest, u.Dial)
		}
		i := slices.IndexFunc(next, func(r Route) bool {
			return (u.Region == "" || r.Region == u.Region) && (u.Bucket == "" || r.Bucket == u.Bucket)
		})
		switch {
		case u.Region == "" && u.Bucket == "":
			return fmt.Errorf("%w: each route needs a Bucket or a Region", ErrInvalidRequest)
		case i < 0 && u.Region != "" && u.Bucket != "":
			return fmt.Errorf("%w: bucket %q is not the member in Region %q", ErrInvalidRequest, u.Bucket, u.Region)
		case i < 0:
			return fmt.Errorf("%w: %q is not a member of this Multi-Region Access Point", ErrInvalidRequest, u.Region+u.Bucket)
		}
		next[i].Dial = u.Dial
	}
	if !anyActive(next) {
		return fmt.Errorf("%w: at least one Region must stay active (TrafficDialPercentage > 0)", ErrInvalidRequest)
	}
	prev := t.routes
	t.routes = next
	if err := t.save(); err != nil {
		t.routes = prev
		return err
	}
	for _, ch := range t.watchers {
		close(ch)
	}
	t.watchers = nil
	return nil
}

func anyActive(routes []Route) bool {
	return slices.ContainsFunc(routes, func(r Route) bool { return r.Dial > 0 })
}

// save writes the table atomically (temporary file, then rename). Callers hold mu or own t.
func (t *Table) save() error {
	if t.path == "" {
		return nil
	}
	b, err := json.MarshalIndent(tableFile{Routes: t.routes}, "", "  ")
	if err != nil {
		return fmt.Errorf("save routes: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(t.path), 0o755); err != nil {
		return fmt.Errorf("save routes: %w", err)
	}
	tmp := t.path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("save routes: %w", err)
	}
	if err := os.Rename(tmp, t.path); err != nil {
		return fmt.Errorf("save routes: %w", err)
	}
	return nil
}
