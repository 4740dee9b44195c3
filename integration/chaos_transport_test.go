package integration

import (
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// chaosTransport is an http.RoundTripper for the engine's S3 clients that injects 503
// SlowDown answers and timeouts, before the request reaches the server (nothing happened) or
// after (the server did the work, the client does not know): the ambiguous failures the
// engine's idempotence must absorb. Its choices come from a seeded generator.
type chaosTransport struct {
	next    http.RoundTripper
	cfg     transportFaults
	enabled atomic.Bool

	mu  sync.Mutex
	rng *rand.Rand

	requests, slowDownBefore, slowDownAfter, timeoutBefore, timeoutAfter atomic.Int64
}

// transportFaults are the per-request probabilities of each fault.
type transportFaults struct {
	SlowDown float64 // 503 SlowDown, half before and half after the server saw the request
	Timeout  float64 // a timeout error, half before and half after
}

// newChaosTransport wraps next (nil: a plain transport).
func newChaosTransport(seed uint64, cfg transportFaults, next http.RoundTripper) *chaosTransport {
	if next == nil {
		next = plainTransport()
	}
	t := &chaosTransport{next: next, cfg: cfg, rng: rand.New(rand.NewPCG(seed, seed^0x7a3c))}
	t.enabled.Store(true)
	return t
}

func plainTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return t
}

type chaosTimeout struct{}

func (chaosTimeout) Error() string   { return "chaos: i/o timeout (injected)" }
func (chaosTimeout) Timeout() bool   { return true }
func (chaosTimeout) Temporary() bool { return true }

// RoundTrip implements http.RoundTripper.
func (t *chaosTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.requests.Add(1)
	fault := ""
	if t.enabled.Load() {
		t.mu.Lock()
		x, after := t.rng.Float64(), t.rng.IntN(2) == 1
		t.mu.Unlock()
		switch {
		case x < t.cfg.SlowDown && after:
			fault = "slowdown-after"
		case x < t.cfg.SlowDown:
			fault = "slowdown-before"
		case x < t.cfg.SlowDown+t.cfg.Timeout && after:
			fault = "timeout-after"
		case x < t.cfg.SlowDown+t.cfg.Timeout:
			fault = "timeout-before"
		}
	}
	switch fault {
	case "slowdown-before":
		t.slowDownBefore.Add(1)
		closeBody(req)
		return slowDown(req), nil
	case "timeout-before":
		t.timeoutBefore.Add(1)
		closeBody(req)
		time.Sleep(20 * time.Millisecond)
		return nil, chaosTimeout{}
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil || fault == "" {
		return resp, err
	}
	// The server did the work; the client is told otherwise.
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if fault == "timeout-after" {
		t.timeoutAfter.Add(1)
		return nil, chaosTimeout{}
	}
	t.slowDownAfter.Add(1)
	return slowDown(req), nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

func slowDown(req *http.Request) *http.Response {
	body := `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate. (chaos)</Message></Error>`
	if req.Method == http.MethodHead {
		body = ""
	}
	h := http.Header{}
	h.Set("Content-Type", "application/xml")
	h.Set("x-amz-request-id", "CHAOS")
	return &http.Response{
		Status: "503 Service Unavailable", StatusCode: http.StatusServiceUnavailable, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: req,
	}
}

// faultCounts renders what was injected.
func (t *chaosTransport) faultCounts() (requests int64, injected map[string]int64) {
	return t.requests.Load(), map[string]int64{
		"503-before": t.slowDownBefore.Load(), "503-after": t.slowDownAfter.Load(),
		"timeout-before": t.timeoutBefore.Load(), "timeout-after": t.timeoutAfter.Load(),
	}
}
