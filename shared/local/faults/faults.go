// Package faults puts a fault-injecting reverse proxy in front of one local Region's S3
// endpoint, so drills can make a Region go down, answer errors or turn slow. The two
// whole-Region faults (outage, isolate) also cut links between Regions: the runtime applies
// them to its link model (shared/local/network) as well.
package faults

import (
	"fmt"
	"github.com/mrap-engine/mrap/shared/local/s3xml"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

// Mode is how the Region behaves.
type Mode string

// The fault modes.
const (
	Up     Mode = "up"     // requests pass through
	Down   Mode = "down"   // connections are reset without an answer
	Errors Mode = "errors" // every request gets 503 SlowDown
	Slow   Mode = "slow"   // requests pass through after a delay
	// Outage: everything of the Region stops. Its S3 endpoint resets connections as Down
	// does; the runtime also stops the Region's probes, alarms, decider and state copy.
	Outage Mode = "outage"
	// Isolate: the Region serves its own clients (its endpoint passes requests through) but
	// the runtime cuts every link between it and the other Regions.
	Isolate Mode = "isolate"
)

// ParseMode returns the Mode named s.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case Up, Down, Errors, Slow, Outage, Isolate:
		return m, nil
	}
	return "", fmt.Errorf("unknown fault %q: want up, down, errors, slow, outage or isolate", s)
}

// DefaultDelay is the added latency of Slow.
const DefaultDelay = 2 * time.Second

// Proxy forwards to one upstream and injects the current fault.
type Proxy struct {
	rp    *httputil.ReverseProxy
	mu    sync.RWMutex
	mode  Mode
	delay time.Duration
}

// New returns a Proxy in front of upstream (http://127.0.0.1:PORT), in mode Up.
func New(upstream string) (*Proxy, error) {
	u, err := url.Parse(upstream)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("faults: bad upstream %q", upstream)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host // the client signed the proxy's host
		},
		Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			s3xml.WriteError(w, http.StatusBadGateway, "InternalError", "local Region unreachable: "+err.Error())
		},
	}
	return &Proxy{rp: rp, mode: Up, delay: DefaultDelay}, nil
}

// Set changes the fault; delay applies to Slow (0 keeps the current delay).
func (p *Proxy) Set(m Mode, delay time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = m
	if delay > 0 {
		p.delay = delay
	}
}

// Mode returns the current fault.
func (p *Proxy) Mode() Mode {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.mode
}

// ServeHTTP implements http.Handler.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.RLock()
	mode, delay := p.mode, p.delay
	p.mu.RUnlock()
	switch mode {
	case Down, Outage:
		reset(w)
		return
	case Errors:
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 64<<20))
		w.Header().Set("Retry-After", "1")
		s3xml.WriteError(w, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate. (local fault injection)")
		return
	case Slow:
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	p.rp.ServeHTTP(w, r)
}

// reset closes the client connection with a TCP RST and no answer.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok { // HTTP/2: no raw connection to reset
		s3xml.WriteError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "local Region is down (fault injection)")
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}
