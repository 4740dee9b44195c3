package s3store

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestNewClientAddressesTheEndpoint pins down the one client builder: an endpoint is used
// path-style, the Region given is the one signed for, an empty Region keeps the config's,
// and option functions apply last.
func TestNewClientAddressesTheEndpoint(t *testing.T) {
	var mu sync.Mutex
	var paths, auths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths, auths = append(paths, r.URL.Path), append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Length", "0")
		w.Header().Set("ETag", `"e"`)
	}))
	defer srv.Close()
	cfg := StaticConfig("AKLOCAL", "secret")
	cfg.Region = "us-east-1"
	tests := []struct {
		name       string
		region     string
		wantRegion string
	}{
		{"region given is signed for", "eu-west-1", "eu-west-1"},
		{"empty region keeps the config's", "", "us-east-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			paths, auths = nil, nil
			attempts := 0
			c := NewClient(cfg, tt.region, srv.URL, func(o *s3.Options) { attempts = 1; o.RetryMaxAttempts = 1 })
			if attempts != 1 {
				t.Fatal("option function not applied")
			}
			if _, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("a b")}); err != nil {
				t.Fatal(err)
			}
			if len(paths) != 1 || paths[0] != "/bkt/a b" {
				t.Errorf("paths %q, want one path-style request /bkt/a b", paths)
			}
			if len(auths) != 1 || !strings.Contains(auths[0], "AKLOCAL/") || !strings.Contains(auths[0], "/"+tt.wantRegion+"/s3/") {
				t.Errorf("authorization %q, want static key signed for %s", auths, tt.wantRegion)
			}
		})
	}
}

// TestNewClientWithoutEndpointKeepsAWSResolution checks that no endpoint leaves the SDK's
// own resolution (virtual-hosted, no base endpoint) in place.
func TestNewClientWithoutEndpointKeepsAWSResolution(t *testing.T) {
	c := NewClient(StaticConfig("a", "b"), "eu-west-1", "")
	o := c.Options()
	if o.BaseEndpoint != nil || o.UsePathStyle || o.Region != "eu-west-1" {
		t.Errorf("options: base %v, path style %v, region %q; want none, false, eu-west-1", o.BaseEndpoint, o.UsePathStyle, o.Region)
	}
}
