// Package network is the local runtime's model of the links between Regions: which Region
// can reach which. Every cross-Region client of the local runtime (replication between
// Regions, probes, the deciders' reads of alarms and state copies, their routes-API calls)
// asks it, through a transport that knows its (from, to) pair, so a whole-Region outage and
// an isolated Region behave locally as they would between AWS Regions.
package network

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"
)

// State is how a Region is connected.
type State string

// The Region states.
const (
	Up       State = "up"       // reaches and is reached by every Region
	Outage   State = "outage"   // nothing of the Region runs: it reaches nobody, nobody reaches it
	Isolated State = "isolated" // serves its own clients, but no link to or from another Region
)

// Endpoints that are not Regions but are reached across the network.
const (
	// Global is the access point's global endpoint: a Region's clients reach it even when
	// the Region is isolated from the others (the Region then serves them itself).
	Global = "global"
	// RoutesAPI is AWS's five-Region routes API: unreachable from an isolated or out Region.
	RoutesAPI = "routes-api"
)

// DefaultBlackhole is how long a request into a cut link hangs before it fails, as a
// connection across a partition times out rather than being refused.
const DefaultBlackhole = time.Second

// Links is the connectivity of a local deployment. The zero Region state is Up. It is safe
// for concurrent use.
type Links struct {
	mu        sync.RWMutex
	regions   []string
	state     map[string]State
	blackhole time.Duration
}

// New returns the links of regions, every one Up.
func New(regions []string) *Links {
	l := &Links{regions: slices.Clone(regions), state: map[string]State{}, blackhole: DefaultBlackhole}
	for _, r := range regions {
		l.state[r] = Up
	}
	return l
}

// SetBlackhole changes how long a request into a cut link hangs (0: fail at once).
func (l *Links) SetBlackhole(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.blackhole = d
}

// Set changes the state of region.
func (l *Links) Set(region string, s State) error {
	switch s {
	case Up, Outage, Isolated:
	default:
		return fmt.Errorf("unknown link state %q: want up, outage or isolated", s)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.state[region]; !ok {
		return fmt.Errorf("%q is not a Region of this deployment (%v)", region, l.regions)
	}
	l.state[region] = s
	return nil
}

// State returns the state of region (Up for a name it does not know).
func (l *Links) State(region string) State {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if s, ok := l.state[region]; ok {
		return s
	}
	return Up
}

// Running reports whether the Region's own processes run (every state but Outage).
func (l *Links) Running(region string) bool { return l.State(region) != Outage }

// Reach returns nil when from can reach to, or an error naming the cut. A Region reaches
// itself unless it is out; Global is reached from every Region that is not out; RoutesAPI
// and the other Regions only from a Region that is neither out nor isolated.
func (l *Links) Reach(from, to string) error {
	fs, ts := l.State(from), l.State(to)
	switch {
	case fs == Outage:
		return &CutError{From: from, To: to, Cause: from + " is out"}
	case to == Global || from == to:
		return nil
	case ts == Outage:
		return &CutError{From: from, To: to, Cause: to + " is out"}
	case fs == Isolated:
		return &CutError{From: from, To: to, Cause: from + " is isolated"}
	case ts == Isolated:
		return &CutError{From: from, To: to, Cause: to + " is isolated"}
	}
	return nil
}

// CutError is the failure of a request over a cut link.
type CutError struct {
	From, To, Cause string
}

func (e *CutError) Error() string {
	return fmt.Sprintf("no route from %s to %s (local link model: %s)", e.From, e.To, e.Cause)
}

// Timeout reports true: to a client, a cut link looks like a connection that timed out.
func (e *CutError) Timeout() bool { return true }

// Transport returns a RoundTripper that sends requests from one Region to another over
// base (nil: a new http.Transport) while the link is up. Over a cut link a request hangs
// for the blackhole time (or until its context ends) and fails with a *CutError.
func (l *Links) Transport(from, to string, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 16, IdleConnTimeout: 30 * time.Second}
	}
	return &transport{links: l, from: from, to: to, base: base}
}

// Client returns an *http.Client over Transport(from, to, nil).
func (l *Links) Client(from, to string) *http.Client {
	return &http.Client{Transport: l.Transport(from, to, nil)}
}

type transport struct {
	links    *Links
	from, to string
	base     http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.links.Reach(t.from, t.to); err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		t.links.mu.RLock()
		wait := t.links.blackhole
		t.links.mu.RUnlock()
		if cerr := sleep(req.Context(), wait); cerr != nil {
			return nil, fmt.Errorf("%w: %w", err, cerr)
		}
		return nil, err
	}
	return t.base.RoundTrip(req)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
