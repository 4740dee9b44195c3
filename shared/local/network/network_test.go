package network

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestReach(t *testing.T) {
	cases := []struct {
		name     string
		state    map[string]State
		from, to string
		want     bool
	}{
		{"every link up", nil, "a", "b", true},
		{"a Region reaches itself", nil, "a", "a", true},
		{"an out Region reaches nobody", map[string]State{"a": Outage}, "a", "b", false},
		{"an out Region does not reach itself", map[string]State{"a": Outage}, "a", "a", false},
		{"nobody reaches an out Region", map[string]State{"b": Outage}, "a", "b", false},
		{"an out Region does not reach the global endpoint", map[string]State{"a": Outage}, "a", Global, false},
		{"an isolated Region reaches itself", map[string]State{"a": Isolated}, "a", "a", true},
		{"an isolated Region reaches the global endpoint", map[string]State{"a": Isolated}, "a", Global, true},
		{"an isolated Region reaches no other Region", map[string]State{"a": Isolated}, "a", "b", false},
		{"no other Region reaches an isolated one", map[string]State{"b": Isolated}, "a", "b", false},
		{"an isolated Region does not reach the routes API", map[string]State{"a": Isolated}, "a", RoutesAPI, false},
		{"the others still reach each other", map[string]State{"c": Isolated}, "a", "b", true},
		{"the others still reach the routes API", map[string]State{"c": Outage}, "a", RoutesAPI, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := New([]string{"a", "b", "c"})
			for r, s := range c.state {
				if err := l.Set(r, s); err != nil {
					t.Fatal(err)
				}
			}
			err := l.Reach(c.from, c.to)
			if got := err == nil; got != c.want {
				t.Errorf("Reach(%s, %s) = %v, want reachable %v", c.from, c.to, err, c.want)
			}
		})
	}
}

func TestSetRefusesUnknownRegionAndState(t *testing.T) {
	l := New([]string{"a", "b"})
	if err := l.Set("x", Outage); err == nil {
		t.Error("Set of an unknown Region succeeded")
	}
	if err := l.Set("a", "gone"); err == nil {
		t.Error("Set of an unknown state succeeded")
	}
	if l.State("a") != Up {
		t.Errorf("a refused Set changed the state to %s", l.State("a"))
	}
}

func TestTransportCutsAndRestoresALink(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer srv.Close()
	l := New([]string{"a", "b"})
	l.SetBlackhole(20 * time.Millisecond)
	c := l.Client("a", "b")
	get := func() error {
		resp, err := c.Get(srv.URL)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(); err != nil {
		t.Fatalf("link up: %v", err)
	}
	_ = l.Set("b", Isolated)
	start := time.Now()
	err := get()
	var cut *CutError
	if !errors.As(err, &cut) || cut.Cause != "b is isolated" {
		t.Fatalf("link cut: err = %v, want a CutError naming b isolated", err)
	}
	if time.Since(start) < 20*time.Millisecond {
		t.Errorf("a cut link failed after %s, want it to hang for the blackhole time first", time.Since(start))
	}
	if hits != 1 {
		t.Errorf("server saw %d requests, want 1 (none over the cut link)", hits)
	}
	_ = l.Set("b", Up)
	if err := get(); err != nil {
		t.Fatalf("link restored: %v", err)
	}
}

func TestTransportGivesUpWithTheRequestContext(t *testing.T) {
	l := New([]string{"a", "b"})
	l.SetBlackhole(time.Hour)
	_ = l.Set("b", Outage)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:1/", nil)
	_, err := l.Client("a", "b").Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the context's deadline", err)
	}
}
