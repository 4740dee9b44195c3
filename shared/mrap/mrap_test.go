package mrap

import (
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
)

const (
	account = "123456789012"
	arn     = "arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap"
	xmlns   = "http://awss3control.amazonaws.com/doc/2018-08-20/"
)

// wireRequest is what the fake routes API saw.
type wireRequest struct {
	Method, Host, URI, AccountID, Body string
}

// fakeRoutesAPI speaks the s3control routes wire format over one table, answering with a
// chosen status per Host to simulate broken control Regions.
type fakeRoutesAPI struct {
	mu       sync.Mutex
	routes   []Route
	failHost map[string]int // Host -> status to answer with
	hang     map[string]bool
	requests []wireRequest
}

type routeXML struct {
	Bucket                string `xml:"Bucket,omitempty"`
	Region                string `xml:"Region,omitempty"`
	TrafficDialPercentage int    `xml:"TrafficDialPercentage"`
}

func (f *fakeRoutesAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.requests = append(f.requests, wireRequest{Method: r.Method, Host: r.Host, URI: r.RequestURI, AccountID: r.Header.Get("x-amz-account-id"), Body: string(body)})
	status, hang := f.failHost[r.Host], f.hang[r.Host]
	f.mu.Unlock()
	if hang {
		<-r.Context().Done()
		return
	}
	if status != 0 {
		code := "InternalError"
		switch status {
		case http.StatusServiceUnavailable:
			code = "SlowDown"
		case http.StatusForbidden:
			code = "AccessDenied"
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><ErrorResponse><Error><Code>%s</Code><Message>injected</Message></Error><RequestId>r1</RequestId><HostId>h1</HostId></ErrorResponse>`, code)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.Method {
	case http.MethodGet:
		var b strings.Builder
		fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?><GetMultiRegionAccessPointRoutesResult xmlns="%s"><Mrap>%s</Mrap><Routes>`, xmlns, arn)
		for _, rt := range f.routes {
			fmt.Fprintf(&b, "<Route><Bucket>%s</Bucket><Region>%s</Region><TrafficDialPercentage>%d</TrafficDialPercentage></Route>", rt.Bucket, rt.Region, rt.Dial)
		}
		b.WriteString("</Routes></GetMultiRegionAccessPointRoutesResult>")
		_, _ = io.WriteString(w, b.String())
	case http.MethodPatch:
		var req struct {
			Routes []routeXML `xml:"RouteUpdates>Route"`
		}
		if err := xml.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, u := range req.Routes {
			for i := range f.routes {
				if f.routes[i].Region == u.Region {
					f.routes[i].Dial = u.TrafficDialPercentage
				}
			}
		}
		w.WriteHeader(http.StatusOK)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

func (f *fakeRoutesAPI) seen() []wireRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]wireRequest(nil), f.requests...)
}

// newSDKClient returns a real s3control client whose every connection, whatever the host,
// lands on srv: the Host header still says where the SDK meant to go.
func newSDKClient(t *testing.T, srv *httptest.Server) *s3control.Client {
	t.Helper()
	addr := srv.Listener.Addr().String()
	transport := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // test server
	}
	t.Cleanup(transport.CloseIdleConnections)
	return s3control.New(s3control.Options{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "SECRET", ""),
		HTTPClient:       &http.Client{Transport: transport},
		RetryMaxAttempts: 1,
	})
}

func threeRegions() []Route {
	return []Route{
		{Bucket: "data-apse2", Region: "ap-southeast-2", Dial: 0},
		{Bucket: "data-euw1", Region: "eu-west-1", Dial: 100},
		{Bucket: "data-use1", Region: "us-east-1", Dial: 100},
	}
}

func host(region string) string { return account + ".s3-control." + region + ".amazonaws.com" }

const wantPath = "/v20180820/mrap/instances/arn%3Aaws%3As3%3A%3A123456789012%3Aaccesspoint/mfzwi23gnjvgw.mrap/routes"

func TestGetRoutesWireRequest(t *testing.T) {
	fake := &fakeRoutesAPI{routes: threeRegions()}
	srv := httptest.NewTLSServer(fake)
	defer srv.Close()
	c, err := New(newSDKClient(t, srv), Options{AccountID: account, ARN: arn})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetRoutes(context.Background())
	if err != nil {
		t.Fatalf("GetRoutes: %v", err)
	}
	if !reflect.DeepEqual(got, threeRegions()) {
		t.Errorf("GetRoutes = %+v, want %+v", got, threeRegions())
	}
	reqs := fake.seen()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(reqs))
	}
	want := wireRequest{Method: "GET", Host: host("us-east-1"), URI: wantPath, AccountID: account}
	if reqs[0] != want {
		t.Errorf("request = %+v\nwant      %+v", reqs[0], want)
	}
}

func TestSubmitRoutesSendsOnlyChangedRegionsAndReadsBack(t *testing.T) {
	fake := &fakeRoutesAPI{routes: threeRegions()}
	srv := httptest.NewTLSServer(fake)
	defer srv.Close()
	c, err := New(newSDKClient(t, srv), Options{AccountID: account, ARN: arn})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.SubmitRoutes(context.Background(), threeRegions(), map[string]int{"ap-southeast-2": 100, "eu-west-1": 0, "us-east-1": 100})
	if err != nil {
		t.Fatalf("SubmitRoutes: %v", err)
	}
	reqs := fake.seen()
	if len(reqs) != 2 || reqs[0].Method != "PATCH" || reqs[1].Method != "GET" {
		t.Fatalf("requests = %+v, want PATCH then GET", reqs)
	}
	patch := reqs[0]
	if patch.Host != host("us-east-1") || patch.URI != wantPath || patch.AccountID != account {
		t.Errorf("PATCH went to %s %s account %q", patch.Host, patch.URI, patch.AccountID)
	}
	wantBody := `<SubmitMultiRegionAccessPointRoutesRequest xmlns="` + xmlns + `"><RouteUpdates>` +
		`<Route><Bucket>data-apse2</Bucket><Region>ap-southeast-2</Region><TrafficDialPercentage>100</TrafficDialPercentage></Route>` +
		`<Route><Bucket>data-euw1</Bucket><Region>eu-west-1</Region><TrafficDialPercentage>0</TrafficDialPercentage></Route>` +
		`</RouteUpdates></SubmitMultiRegionAccessPointRoutesRequest>`
	if patch.Body != wantBody {
		t.Errorf("PATCH body =\n%s\nwant\n%s", patch.Body, wantBody)
	}
	if res.ControlRegion != "us-east-1" || len(res.Sent) != 2 {
		t.Errorf("result = %+v", res)
	}
	if got, want := Dials(res.After), map[string]int{"ap-southeast-2": 100, "eu-west-1": 0, "us-east-1": 100}; !reflect.DeepEqual(got, want) {
		t.Errorf("read back %v, want %v", got, want)
	}
}

func TestSubmitRoutesWithNothingToChangeSendsNothing(t *testing.T) {
	fake := &fakeRoutesAPI{routes: threeRegions()}
	srv := httptest.NewTLSServer(fake)
	defer srv.Close()
	c, _ := New(newSDKClient(t, srv), Options{AccountID: account, ARN: arn})
	if _, err := c.SubmitRoutes(context.Background(), threeRegions(), Dials(threeRegions())); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.seen()); n != 0 {
		t.Errorf("sent %d requests for no change, want 0", n)
	}
}

func TestSubmitRoutesRefusesAllPassive(t *testing.T) {
	fake := &fakeRoutesAPI{routes: threeRegions()}
	srv := httptest.NewTLSServer(fake)
	defer srv.Close()
	c, _ := New(newSDKClient(t, srv), Options{AccountID: account, ARN: arn})
	_, err := c.SubmitRoutes(context.Background(), threeRegions(), map[string]int{"eu-west-1": 0, "us-east-1": 0})
	if err == nil || !strings.Contains(err.Error(), "every Region passive") {
		t.Fatalf("err = %v, want a refusal", err)
	}
	if n := len(fake.seen()); n != 0 {
		t.Errorf("sent %d requests, want none", n)
	}
}

func TestControlRegionFallback(t *testing.T) {
	tests := []struct {
		name       string
		fail       map[string]int
		hang       map[string]bool
		wantHosts  []string
		wantRegion string
		wantErr    string
	}{
		{
			name:       "5xx falls back to the next Region",
			fail:       map[string]int{host("us-east-1"): 500},
			wantHosts:  []string{host("us-east-1"), host("us-west-2"), host("us-west-2")},
			wantRegion: "us-west-2",
		},
		{
			name:       "throttling falls back",
			fail:       map[string]int{host("us-east-1"): 503, host("us-west-2"): 429},
			wantHosts:  []string{host("us-east-1"), host("us-west-2"), host("ap-southeast-2"), host("ap-southeast-2")},
			wantRegion: "ap-southeast-2",
		},
		{
			name:       "a timeout falls back",
			hang:       map[string]bool{host("us-east-1"): true},
			wantHosts:  []string{host("us-east-1"), host("us-west-2"), host("us-west-2")},
			wantRegion: "us-west-2",
		},
		{
			name:      "access denied does not fall back",
			fail:      map[string]int{host("us-east-1"): 403},
			wantHosts: []string{host("us-east-1")},
			wantErr:   "AccessDenied",
		},
		{
			name:      "every Region failing is an error naming each",
			fail:      map[string]int{host("us-east-1"): 500, host("us-west-2"): 500, host("ap-southeast-2"): 500, host("ap-northeast-1"): 500, host("eu-west-1"): 500},
			wantHosts: []string{host("us-east-1"), host("us-west-2"), host("ap-southeast-2"), host("ap-northeast-1"), host("eu-west-1")},
			wantErr:   "eu-west-1: ",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeRoutesAPI{routes: threeRegions(), failHost: tt.fail, hang: tt.hang}
			srv := httptest.NewTLSServer(fake)
			defer srv.Close()
			c, err := New(newSDKClient(t, srv), Options{AccountID: account, ARN: arn, AttemptTimeout: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			res, err := c.SubmitRoutes(context.Background(), threeRegions(), map[string]int{"eu-west-1": 0})
			var hosts []string
			for _, r := range fake.seen() {
				hosts = append(hosts, r.Host)
			}
			if !reflect.DeepEqual(hosts, tt.wantHosts) {
				t.Errorf("hosts = %v\nwant    %v", hosts, tt.wantHosts)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("SubmitRoutes: %v", err)
			}
			if res.ControlRegion != tt.wantRegion {
				t.Errorf("ControlRegion = %q, want %q", res.ControlRegion, tt.wantRegion)
			}
		})
	}
}

func TestConfiguredControlRegionOrder(t *testing.T) {
	fake := &fakeRoutesAPI{routes: threeRegions(), failHost: map[string]int{host("eu-west-1"): 502}}
	srv := httptest.NewTLSServer(fake)
	defer srv.Close()
	c, _ := New(newSDKClient(t, srv), Options{AccountID: account, ARN: arn, ControlRegions: []string{"eu-west-1", "ap-northeast-1"}})
	if _, err := c.GetRoutes(context.Background()); err != nil {
		t.Fatal(err)
	}
	var hosts []string
	for _, r := range fake.seen() {
		hosts = append(hosts, r.Host)
	}
	if want := []string{host("eu-west-1"), host("ap-northeast-1")}; !reflect.DeepEqual(hosts, want) {
		t.Errorf("hosts = %v, want %v", hosts, want)
	}
}

func TestEndpointOverrideIsUsedAsIs(t *testing.T) {
	fake := &fakeRoutesAPI{routes: threeRegions()}
	srv := httptest.NewServer(fake) // plain HTTP, like the local runtime
	defer srv.Close()
	sdk := s3control.New(s3control.Options{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "SECRET", ""),
		RetryMaxAttempts: 1,
	})
	c, err := New(sdk, Options{AccountID: account, ARN: arn, Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SubmitRoutes(context.Background(), threeRegions(), map[string]int{"ap-southeast-2": 100}); err != nil {
		t.Fatalf("SubmitRoutes: %v", err)
	}
	reqs := fake.seen()
	if len(reqs) != 2 {
		t.Fatalf("got %d requests, want PATCH and GET", len(reqs))
	}
	wantHost := strings.TrimPrefix(srv.URL, "http://")
	for _, r := range reqs {
		if r.Host != wantHost || r.URI != wantPath || r.AccountID != account {
			t.Errorf("request %s went to %s %s account %q, want %s %s", r.Method, r.Host, r.URI, r.AccountID, wantHost, wantPath)
		}
	}
}

func TestSubmitRoutesReportsMismatchOnReadBack(t *testing.T) {
	api := &scriptedAPI{after: []Route{{Region: "eu-west-1", Dial: 100}, {Region: "us-east-1", Dial: 100}}}
	c, _ := New(api, Options{AccountID: account, ARN: arn})
	_, err := c.SubmitRoutes(context.Background(), []Route{{Region: "eu-west-1", Dial: 100}, {Region: "us-east-1", Dial: 100}}, map[string]int{"eu-west-1": 0})
	var mm *MismatchError
	if !errors.As(err, &mm) || !strings.Contains(err.Error(), "eu-west-1 want 0 got 100") {
		t.Fatalf("err = %v, want a MismatchError", err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	_, err := New(&scriptedAPI{}, Options{ARN: "mrap-alias", Endpoint: "localhost"})
	for _, want := range []string{"account id is required", `"mrap-alias" is not`, `"localhost" is not an absolute URL`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to mention %q", err, want)
		}
	}
}

func TestChanges(t *testing.T) {
	got, err := Changes(threeRegions(), map[string]int{"eu-west-1": 100, "us-east-1": 0})
	if err != nil {
		t.Fatal(err)
	}
	if want := []Route{{Bucket: "data-use1", Region: "us-east-1", Dial: 0}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Changes = %+v, want %+v", got, want)
	}
	if _, err := Changes(threeRegions(), map[string]int{"sa-east-1": 100}); err == nil {
		t.Error("a stranger Region should be an error")
	}
}

// scriptedAPI answers Submit with success and Get with a fixed table.
type scriptedAPI struct{ after []Route }

func (s *scriptedAPI) GetMultiRegionAccessPointRoutes(context.Context, *s3control.GetMultiRegionAccessPointRoutesInput, ...func(*s3control.Options)) (*s3control.GetMultiRegionAccessPointRoutesOutput, error) {
	return &s3control.GetMultiRegionAccessPointRoutesOutput{Mrap: aws.String(arn), Routes: toSDK(s.after)}, nil
}

func (s *scriptedAPI) SubmitMultiRegionAccessPointRoutes(context.Context, *s3control.SubmitMultiRegionAccessPointRoutesInput, ...func(*s3control.Options)) (*s3control.SubmitMultiRegionAccessPointRoutesOutput, error) {
	return &s3control.SubmitMultiRegionAccessPointRoutesOutput{}, nil
}

func TestTryOrderPutsTheOwnRoutesAPIRegionFirst(t *testing.T) {
	for _, tc := range []struct {
		name, own string
		want      []string
	}{
		{"own Region serves the API: first", "eu-west-1", []string{"eu-west-1", "us-east-1", "us-west-2", "ap-southeast-2", "ap-northeast-1"}},
		{"own Region does not serve it: the order given", "eu-central-1", DefaultControlRegions},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := TryOrder(DefaultControlRegions, tc.own); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
