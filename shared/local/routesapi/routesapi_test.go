package routesapi_test

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	"github.com/aws/aws-sdk-go-v2/service/s3control/types"
	"github.com/aws/smithy-go"

	"github.com/mrap-engine/mrap/shared/local/routesapi"
	"github.com/mrap-engine/mrap/shared/local/sigv4verify"
)

const (
	account = "123456789012"
	alias   = "mfzwi23gnjvgw.mrap"
	arn     = "arn:aws:s3::" + account + ":accesspoint/" + alias
	ak      = "LOCALACCESSKEY"
	sk      = "localsecretkey"
)

var members = []routesapi.Route{
	{Region: "us-east-1", Bucket: "b-use1", Dial: 100},
	{Region: "eu-west-1", Bucket: "b-euw1", Dial: 100},
	{Region: "ap-southeast-2", Bucket: "b-apse2", Dial: 100},
}

func dials(routes []routesapi.Route) string {
	var b strings.Builder
	for _, r := range routes {
		if r.Dial > 0 {
			b.WriteString("1")
		} else {
			b.WriteString("0")
		}
	}
	return b.String()
}

func TestTableSubmit(t *testing.T) {
	tests := []struct {
		name    string
		updates []routesapi.Update
		want    string // dial of each member after, 1 active 0 passive
		wantErr bool
	}{
		{"region passive, others keep their dial", []routesapi.Update{{Region: "us-east-1", Dial: 0}}, "011", false},
		{"bucket names the member", []routesapi.Update{{Bucket: "b-euw1", Dial: 0}}, "101", false},
		{"bucket and region that agree", []routesapi.Update{{Region: "eu-west-1", Bucket: "b-euw1", Dial: 0}}, "101", false},
		{"all passive is rejected", []routesapi.Update{{Region: "us-east-1"}, {Region: "eu-west-1"}, {Region: "ap-southeast-2"}}, "111", true},
		{"bucket of another region is rejected", []routesapi.Update{{Region: "us-east-1", Bucket: "b-euw1", Dial: 0}}, "111", true},
		{"unknown region is rejected", []routesapi.Update{{Region: "us-west-2", Dial: 0}}, "111", true},
		{"dial above 100 is rejected", []routesapi.Update{{Region: "us-east-1", Dial: 101}}, "111", true},
		{"empty update is rejected", nil, "111", true},
		{"one bad update changes nothing", []routesapi.Update{{Region: "us-east-1", Dial: 0}, {Region: "nowhere-1"}}, "111", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, err := routesapi.Open(filepath.Join(t.TempDir(), "routes.json"), members)
			if err != nil {
				t.Fatal(err)
			}
			err = tab.Submit(tt.updates)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Submit() error = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, routesapi.ErrInvalidRequest) {
				t.Errorf("Submit() error = %v, want ErrInvalidRequest", err)
			}
			if got := dials(tab.Routes()); got != tt.want {
				t.Errorf("dials = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestTablePersistsAcrossOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "routes.json")
	tab, err := routesapi.Open(path, members)
	if err != nil {
		t.Fatal(err)
	}
	changed := tab.Changed()
	if err := tab.Submit([]routesapi.Update{{Region: "us-east-1", Dial: 0}}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	default:
		t.Error("Changed() channel not closed after Submit")
	}
	again, err := routesapi.Open(path, members)
	if err != nil {
		t.Fatal(err)
	}
	if got := dials(again.Routes()); got != "011" {
		t.Errorf("dials after reopen = %s, want 011", got)
	}
}

func newServer(t *testing.T) (*routesapi.Table, string) {
	t.Helper()
	tab, err := routesapi.Open(filepath.Join(t.TempDir(), "routes.json"), members)
	if err != nil {
		t.Fatal(err)
	}
	h := routesapi.New(tab, routesapi.Identity{AccountID: account, ARN: arn, Alias: alias},
		routesapi.Options{Verifier: sigv4verify.New(ak, sk)})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return tab, srv.URL
}

func sdkClient(endpoint, secret string) *s3control.Client {
	return s3control.New(s3control.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(ak, secret, ""),
		HTTPClient:   routesapi.LoopbackHTTPClient(),
	})
}

// TestSDKRequestShapes drives the handler with the aws-sdk-go-v2 s3control client: the same
// path (percent-encoded ARN), headers, XML bodies and host prefix as the AWS CLI.
func TestSDKRequestShapes(t *testing.T) {
	tab, endpoint := newServer(t)
	ctx := context.Background()
	c := sdkClient(endpoint, sk)

	got, err := c.GetMultiRegionAccessPointRoutes(ctx, &s3control.GetMultiRegionAccessPointRoutesInput{
		AccountId: aws.String(account), Mrap: aws.String(arn)})
	if err != nil {
		t.Fatalf("get routes: %v", err)
	}
	if aws.ToString(got.Mrap) != arn || len(got.Routes) != 3 || aws.ToString(got.Routes[1].Region) != "eu-west-1" ||
		aws.ToString(got.Routes[1].Bucket) != "b-euw1" || aws.ToInt32(got.Routes[1].TrafficDialPercentage) != 100 {
		t.Fatalf("get routes = %+v", got)
	}

	_, err = c.SubmitMultiRegionAccessPointRoutes(ctx, &s3control.SubmitMultiRegionAccessPointRoutesInput{
		AccountId: aws.String(account), Mrap: aws.String(arn),
		RouteUpdates: []types.MultiRegionAccessPointRoute{{Region: aws.String("us-east-1"), TrafficDialPercentage: aws.Int32(0)}},
	})
	if err != nil {
		t.Fatalf("submit routes: %v", err)
	}
	if d := dials(tab.Routes()); d != "011" {
		t.Errorf("dials after submit = %s, want 011", d)
	}

	_, err = c.SubmitMultiRegionAccessPointRoutes(ctx, &s3control.SubmitMultiRegionAccessPointRoutesInput{
		AccountId: aws.String(account), Mrap: aws.String(arn),
		RouteUpdates: []types.MultiRegionAccessPointRoute{
			{Region: aws.String("eu-west-1"), TrafficDialPercentage: aws.Int32(0)},
			{Bucket: aws.String("b-apse2"), TrafficDialPercentage: aws.Int32(0)},
		},
	})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidRequest" {
		t.Errorf("all-passive submit error = %v, want InvalidRequest", err)
	}
	if d := dials(tab.Routes()); d != "011" {
		t.Errorf("dials after rejected submit = %s, want 011 (unchanged)", d)
	}

	_, err = sdkClient(endpoint, "wrong-secret").GetMultiRegionAccessPointRoutes(ctx, &s3control.GetMultiRegionAccessPointRoutesInput{
		AccountId: aws.String(account), Mrap: aws.String(arn)})
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != sigv4verify.CodeSignatureDoesNotMatch {
		t.Errorf("wrong secret error = %v, want SignatureDoesNotMatch", err)
	}

	_, err = c.GetMultiRegionAccessPointRoutes(ctx, &s3control.GetMultiRegionAccessPointRoutesInput{
		AccountId: aws.String("999999999999"), Mrap: aws.String("arn:aws:s3::999999999999:accesspoint/other.mrap")})
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "AccessDenied" {
		t.Errorf("foreign account error = %v, want AccessDenied", err)
	}
}

func TestRejectsOtherPaths(t *testing.T) {
	_, endpoint := newServer(t)
	resp, err := http.Get(endpoint + "/v20180820/mrap/instances")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("status = %d, want 404", resp.StatusCode)
	}
}

// TestAWSCLI runs the stock AWS CLI v2 against the handler. The CLI sends the request to
// ACCOUNT.localhost:P; HTTP_PROXY pointing at the control endpoint itself gets it there
// without touching /etc/hosts (the step documented in the README).
func TestAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the AWS CLI")
	}
	cli := "/usr/bin/aws"
	if _, err := os.Stat(cli); err != nil {
		t.Skipf("AWS CLI v2 not installed at %s (Debian package awscli)", cli)
	}
	tab, endpoint := newServer(t)
	port := endpoint[strings.LastIndex(endpoint, ":")+1:]
	run := func(args ...string) (string, error) {
		cmd := exec.Command(cli, append(args, "--endpoint-url", "http://localhost:"+port, "--region", "us-east-1", "--output", "json")...)
		cmd.Env = []string{
			"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(),
			"AWS_ACCESS_KEY_ID=" + ak, "AWS_SECRET_ACCESS_KEY=" + sk,
			"HTTP_PROXY=" + endpoint, "AWS_EC2_METADATA_DISABLED=true",
		}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("s3control", "get-multi-region-access-point-routes", "--account-id", account, "--mrap", arn)
	if err != nil || !strings.Contains(out, `"TrafficDialPercentage": 100`) || !strings.Contains(out, "b-apse2") {
		t.Fatalf("get routes: %v\n%s", err, out)
	}
	out, err = run("s3control", "submit-multi-region-access-point-routes", "--account-id", account, "--mrap", arn,
		"--route-updates", "Region=eu-west-1,TrafficDialPercentage=0")
	if err != nil {
		t.Fatalf("submit routes: %v\n%s", err, out)
	}
	if d := dials(tab.Routes()); d != "101" {
		t.Errorf("dials after CLI submit = %s, want 101", d)
	}
	out, err = run("s3control", "submit-multi-region-access-point-routes", "--account-id", account, "--mrap", arn,
		"--route-updates", "Region=us-east-1,TrafficDialPercentage=0", "Region=ap-southeast-2,TrafficDialPercentage=0")
	if err == nil || !strings.Contains(out, "InvalidRequest") {
		t.Errorf("all-passive submit via CLI: err=%v out=%s, want InvalidRequest", err, out)
	}
}

// cliRequest builds a request exactly as AWS CLI v2 (2.9) sends it through HTTP_PROXY: the
// absolute URI with the account id in front of the host, the ARN percent-encoded except for
// '/', Content-MD5, and a SigV4 signature with signing name s3 (path escaped once).
func cliRequest(t *testing.T, endpoint, method, body string) *http.Request {
	t.Helper()
	port := endpoint[strings.LastIndex(endpoint, ":")+1:]
	u := "http://" + account + ".localhost:" + port + "/v20180820/mrap/instances/arn%3Aaws%3As3%3A%3A" + account + "%3Aaccesspoint/" + alias + "/routes"
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(body))
	md := md5.Sum([]byte(body))
	req.Header.Set("Accept-Encoding", "identity")
	req.Header.Set("Content-Md5", base64.StdEncoding.EncodeToString(md[:]))
	req.Header.Set("X-Amz-Account-Id", account)
	req.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
	req.Header.Set("User-Agent", "aws-cli/2.9.19 Python/3.11.2 command/s3control")
	if body == "" {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: ak, SecretAccessKey: sk}, req,
		hex.EncodeToString(sum[:]), "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	return req
}

func TestCLIRequestShapes(t *testing.T) {
	tab, endpoint := newServer(t)
	proxy, _ := url.Parse(endpoint)
	hc := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy)}}

	resp, err := hc.Do(cliRequest(t, endpoint, http.MethodGet, ""))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `<GetMultiRegionAccessPointRoutesResult xmlns="http://awss3control.amazonaws.com/doc/2018-08-20/"><Mrap>` + arn +
		`</Mrap><Routes><Route><Bucket>b-use1</Bucket><Region>us-east-1</Region><TrafficDialPercentage>100</TrafficDialPercentage></Route>`
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(got), want) {
		t.Fatalf("GET: %d\n%s\nwant it to contain\n%s", resp.StatusCode, got, want)
	}

	body := `<SubmitMultiRegionAccessPointRoutesRequest xmlns="http://awss3control.amazonaws.com/doc/2018-08-20/"><RouteUpdates>` +
		`<Route><Region>eu-west-1</Region><TrafficDialPercentage>0</TrafficDialPercentage></Route>` +
		`<Route><Bucket>b-apse2</Bucket><TrafficDialPercentage>100</TrafficDialPercentage></Route></RouteUpdates></SubmitMultiRegionAccessPointRoutesRequest>`
	resp, err = hc.Do(cliRequest(t, endpoint, http.MethodPatch, body))
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PATCH: %d %s", resp.StatusCode, got)
	}
	if d := dials(tab.Routes()); d != "101" {
		t.Errorf("dials after PATCH = %s, want 101", d)
	}

	allPassive := strings.Replace(strings.Replace(body, "<Region>eu-west-1</Region><TrafficDialPercentage>0", "<Region>us-east-1</Region><TrafficDialPercentage>0", 1),
		"<TrafficDialPercentage>100", "<TrafficDialPercentage>0", 1)
	resp, err = hc.Do(cliRequest(t, endpoint, http.MethodPatch, allPassive))
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(got), "<Error><Code>InvalidRequest</Code>") {
		t.Errorf("all-passive PATCH: %d %s, want 400 InvalidRequest", resp.StatusCode, got)
	}
	if d := dials(tab.Routes()); d != "101" {
		t.Errorf("dials after the rejected PATCH = %s, want 101 (unchanged)", d)
	}
}
