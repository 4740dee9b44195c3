package faults_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/shared/local/faults"
)

func TestModes(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "host="+r.Host)
	}))
	defer upstream.Close()
	p, err := faults.New(upstream.URL)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()
	hc := &http.Client{Timeout: 5 * time.Second}

	tests := []struct {
		mode       faults.Mode
		wantStatus int    // 0: the connection fails
		wantBody   string // substring
		minTime    time.Duration
	}{
		{faults.Up, 200, "host=" + strings.TrimPrefix(srv.URL, "http://"), 0},
		{faults.Errors, 503, "<Code>SlowDown</Code>", 0},
		{faults.Slow, 200, "host=", 200 * time.Millisecond},
		{faults.Isolate, 200, "host=", 0}, // the Region's own clients are served; the link model cuts the rest
		{faults.Outage, 0, "", 0},
		{faults.Down, 0, "", 0},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			p.Set(tt.mode, 200*time.Millisecond)
			start := time.Now()
			resp, err := hc.Get(srv.URL + "/bucket/key")
			took := time.Since(start)
			if tt.wantStatus == 0 {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("mode %s: got status %d, want a failed connection", tt.mode, resp.StatusCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("mode %s: %v", tt.mode, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("mode %s: %d %q, want %d containing %q", tt.mode, resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
			if took < tt.minTime {
				t.Errorf("mode %s took %s, want at least %s", tt.mode, took, tt.minTime)
			}
		})
	}
	if p.Mode() != faults.Down {
		t.Errorf("Mode() = %s, want down", p.Mode())
	}
}

func TestParseMode(t *testing.T) {
	for _, s := range []string{"up", "down", "errors", "slow", "outage", "isolate"} {
		if m, err := faults.ParseMode(s); err != nil || string(m) != s {
			t.Errorf("ParseMode(%q) = %q, %v", s, m, err)
		}
	}
	if _, err := faults.ParseMode("sideways"); err == nil {
		t.Error("ParseMode(sideways) succeeded")
	}
}
