package health

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mrap-engine/mrap/shared/local/s3server"
	"github.com/mrap-engine/mrap/shared/local/s3server/s3servertest"
	"github.com/mrap-engine/mrap/shared/telemetry"
)

// emfLines decodes the EMF lines written to buf.
func emfLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("bad EMF line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestProberAgainstVersitygw(t *testing.T) {
	ctx := context.Background()
	servers := s3servertest.StartRegions(t, s3server.Options{}, "us-east-1", "eu-west-1")
	var buf bytes.Buffer
	targets := []Target{
		{Region: "us-east-1", Path: PathRegional, Bucket: servers[0].Bucket, Client: servers[0].Client()},
		{Region: "eu-west-1", Path: PathRegional, Bucket: servers[1].Bucket, Client: servers[1].Client()},
		{Region: "ap-southeast-2", Path: PathRegional, Bucket: "no-such-bucket", Client: servers[1].Client()},
	}
	p, err := NewProber(targets, telemetry.NewMetrics(&buf, "MRAPEngine"), ProberOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res := p.Probe(ctx)
	if !res[0].OK || !res[1].OK {
		t.Fatalf("regional probes failed: %+v", res)
	}
	if res[2].OK || res[2].Step != "put" {
		t.Errorf("probe of a missing bucket = %+v, want a failed put", res[2])
	}
	// The canary version is gone (no version, no delete marker); the global canary stays.
	for _, s := range servers {
		c := s.Client()
		v, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(s.Bucket), Prefix: aws.String(DefaultCanaryPrefix + s.Region + "/")})
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Versions)+len(v.DeleteMarkers) != 0 {
			t.Errorf("%s keeps %d canary versions and %d delete markers, want none", s.Region, len(v.Versions), len(v.DeleteMarkers))
		}
		if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(p.GlobalKey())}); err != nil {
			t.Errorf("%s has no global canary: %v", s.Region, err)
		}
	}
	// The local global endpoint is a plain S3 endpoint: read the global canary through it.
	global, err := NewProber([]Target{{Region: "us-east-1", Path: PathGlobal, Bucket: servers[1].Bucket, Client: servers[1].Client()}}, telemetry.NewMetrics(&buf, "MRAPEngine"), ProberOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if g := global.Probe(ctx); !g[0].OK {
		t.Errorf("global probe failed: %+v", g[0])
	}
	lines := emfLines(t, &buf)
	if len(lines) != 4 {
		t.Fatalf("got %d EMF lines, want 4", len(lines))
	}
	want := []struct {
		region, path string
		avail        float64
	}{{"us-east-1", "regional", 1}, {"eu-west-1", "regional", 1}, {"ap-southeast-2", "regional", 0}, {"us-east-1", "global", 1}}
	for i, w := range want {
		l := lines[i]
		if l["Region"] != w.region || l["Path"] != w.path || l[MetricAvailability] != w.avail {
			t.Errorf("line %d = Region %v Path %v availability %v, want %s %s %v", i, l["Region"], l["Path"], l[MetricAvailability], w.region, w.path, w.avail)
		}
		if lat, ok := l[MetricLatency].(float64); !ok || lat <= 0 {
			t.Errorf("line %d latency = %v, want a positive number of ms", i, l[MetricLatency])
		}
	}
}

func TestProberDetectsAStoppedRegion(t *testing.T) {
	s := s3servertest.Start(t, s3server.Options{Region: "us-west-2"})
	client := s.Client()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	p, _ := NewProber([]Target{{Region: "us-west-2", Path: PathRegional, Bucket: s.Bucket, Client: client}}, nil, ProberOptions{Timeout: 2 * time.Second})
	if r := p.Probe(context.Background()); r[0].OK || r[0].Err == nil {
		t.Errorf("probe of a stopped Region = %+v, want a failure", r[0])
	}
}

// TestGlobalProbeSignsSigV4AThroughTheAccessPoint drives the real S3 client with the MRAP
// ARN as bucket and checks the request the SDK sends: the global endpoint host and a SigV4A
// signature for every Region.
func TestGlobalProbeSignsSigV4AThroughTheAccessPoint(t *testing.T) {
	var mu sync.Mutex
	var host, auth, regionSet string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		host, auth, regionSet = r.Host, r.Header.Get("Authorization"), r.Header.Get("X-Amz-Region-Set")
		mu.Unlock()
		w.Header().Set("Content-Length", "5")
		_, _ = w.Write([]byte("hello"))
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	client := s3.New(s3.Options{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "SECRET", ""),
		HTTPClient: &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			},
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // test server
		}},
	})
	arn := "arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap"
	p, err := NewProber([]Target{{Region: "us-east-1", Path: PathGlobal, Bucket: arn, Client: client}}, nil, ProberOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r := p.Probe(context.Background()); !r[0].OK {
		t.Fatalf("global probe failed: %+v", r[0])
	}
	mu.Lock()
	defer mu.Unlock()
	if want := "mfzwi23gnjvgw.mrap.accesspoint.s3-global.amazonaws.com"; host != want {
		t.Errorf("Host = %q, want %q", host, want)
	}
	if !strings.HasPrefix(auth, "AWS4-ECDSA-P256-SHA256 ") || regionSet != "*" {
		t.Errorf("Authorization %q, X-Amz-Region-Set %q: want SigV4A for every Region", auth, regionSet)
	}
}

func TestNewProberRejectsBadTargets(t *testing.T) {
	_, err := NewProber([]Target{{Region: "us-east-1", Path: "sideways", Bucket: "b", Client: s3.New(s3.Options{})}, {Path: PathRegional}}, nil, ProberOptions{})
	for _, want := range []string{`path "sideways"`, "target 1 needs"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to mention %q", err, want)
		}
	}
}
