package globalendpoint_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/mrap-engine/mrap/shared/local/faults"
	"github.com/mrap-engine/mrap/shared/local/globalendpoint"
	"github.com/mrap-engine/mrap/shared/local/routesapi"
	"github.com/mrap-engine/mrap/shared/local/s3server"
	"github.com/mrap-engine/mrap/shared/local/s3server/s3servertest"
	"github.com/mrap-engine/mrap/shared/local/sigv4verify"
)

const (
	alias = "testalias.mrap"
	ak    = "LOCALKEY"
	sk    = "localsecret"
)

type fixture struct {
	table    *routesapi.Table
	regions  []*s3server.Server
	faults   map[string]*faults.Proxy
	endpoint string
}

func start(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{faults: map[string]*faults.Proxy{}}
	var targets []globalendpoint.Target
	var routes []routesapi.Route
	f.regions = s3servertest.StartRegions(t, s3server.Options{AccessKey: ak, SecretKey: sk}, "us-east-1", "eu-west-1")
	for _, s := range f.regions {
		region := s.Region
		fp, err := faults.New(s.Endpoint)
		if err != nil {
			t.Fatal(err)
		}
		fsrv := httptest.NewServer(fp)
		t.Cleanup(fsrv.Close)
		f.faults[region] = fp
		targets = append(targets, globalendpoint.Target{Region: region, Endpoint: fsrv.URL, Bucket: s.Bucket})
		routes = append(routes, routesapi.Route{Region: region, Bucket: s.Bucket, Dial: 100})
	}
	var err error
	f.table, err = routesapi.Open(filepath.Join(t.TempDir(), "routes.json"), routes)
	if err != nil {
		t.Fatal(err)
	}
	p, err := globalendpoint.New(f.table, globalendpoint.Options{
		Alias: alias, Targets: targets,
		Credentials: aws.Credentials{AccessKeyID: ak, SecretAccessKey: sk},
		Verifier:    sigv4verify.New(ak, sk),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	f.endpoint = srv.URL
	return f
}

func client(endpoint, secret string) *s3.Client {
	return s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(ak, secret, ""),
		Retryer:     aws.NopRetryer{},
	})
}

func get(t testing.TB, c *s3.Client, bucket, key string) (string, error) {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return "", err
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	return string(b), err
}

// TestRoutesToClosestActiveRegion writes and reads through the proxy with an unmodified
// client while the routes flip; each write lands in the Region the table makes active.
func TestRoutesToClosestActiveRegion(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	c := client(f.endpoint, sk)
	key := "dir/a b+c%d:é.txt"

	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(alias), Key: aws.String(key), Body: strings.NewReader("one")}); err != nil {
		t.Fatalf("put via global endpoint: %v", err)
	}
	if got, err := get(t, f.regions[0].Client(), f.regions[0].Bucket, key); err != nil || got != "one" {
		t.Fatalf("us-east-1 (closest) has %q, %v; want one", got, err)
	}

	if err := f.table.Submit([]routesapi.Update{{Region: "us-east-1", Dial: 0}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(alias), Key: aws.String(key), Body: strings.NewReader("two")}); err != nil {
		t.Fatalf("put after failover: %v", err)
	}
	if got, err := get(t, f.regions[1].Client(), f.regions[1].Bucket, key); err != nil || got != "two" {
		t.Fatalf("eu-west-1 has %q, %v; want two", got, err)
	}
	if got, err := get(t, c, alias, key); err != nil || got != "two" {
		t.Fatalf("get via global endpoint = %q, %v; want two", got, err)
	}
	buckets, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil || len(buckets.Buckets) != 1 || aws.ToString(buckets.Buckets[0].Name) != alias {
		t.Fatalf("list buckets via global endpoint = %+v, %v; want only %s", buckets, err, alias)
	}
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(alias), Prefix: aws.String("dir/")})
	if err != nil || len(list.Contents) != 1 || aws.ToString(list.Contents[0].Key) != key {
		t.Fatalf("list via global endpoint = %+v, %v", list, err)
	}
}

func TestRefusesBadSignatureAndOtherBuckets(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	var apiErr smithy.APIError
	_, err := client(f.endpoint, "wrong").PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(alias), Key: aws.String("k"), Body: strings.NewReader("x")})
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != sigv4verify.CodeSignatureDoesNotMatch {
		t.Errorf("wrong secret: err = %v, want SignatureDoesNotMatch", err)
	}
	_, err = client(f.endpoint, sk).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("other"), Key: aws.String("k"), Body: strings.NewReader("x")})
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "NoSuchBucket" {
		t.Errorf("other bucket: err = %v, want NoSuchBucket", err)
	}
	if _, err := f.regions[0].Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(f.regions[0].Bucket), Key: aws.String("k")}); err == nil {
		t.Error("a refused request reached the Region")
	}
}

func TestFaultsReachTheClient(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	c := client(f.endpoint, sk)
	put := func() error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(alias), Key: aws.String("f"), Body: bytes.NewReader([]byte("x"))})
		return err
	}
	var apiErr smithy.APIError
	f.faults["us-east-1"].Set(faults.Errors, 0)
	if err := put(); !errors.As(err, &apiErr) || apiErr.ErrorCode() != "SlowDown" {
		t.Errorf("errors fault: err = %v, want SlowDown", err)
	}
	f.faults["us-east-1"].Set(faults.Down, 0)
	if err := put(); !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ServiceUnavailable" {
		t.Errorf("down fault: err = %v, want ServiceUnavailable from the global endpoint", err)
	}
	f.faults["us-east-1"].Set(faults.Up, 0)
	if err := put(); err != nil {
		t.Errorf("after up: %v", err)
	}
}

// TestAWSCLIThroughGlobalEndpoint uploads with the stock AWS CLI v2 (its own signing and
// payload style) through the proxy.
func TestAWSCLIThroughGlobalEndpoint(t *testing.T) {
	f := start(t)
	cli := "/usr/bin/aws"
	if _, err := os.Stat(cli); err != nil {
		t.Skipf("AWS CLI v2 not installed at %s", cli)
	}
	src := filepath.Join(t.TempDir(), "src.bin")
	data := bytes.Repeat([]byte("0123456789abcdef"), 9<<16) // 9 MiB: the CLI goes multipart
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(cli, "s3", "cp", src, "s3://"+alias+"/cli/src.bin", "--endpoint-url", f.endpoint, "--region", "us-east-1")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "AWS_ACCESS_KEY_ID=" + ak, "AWS_SECRET_ACCESS_KEY=" + sk, "AWS_EC2_METADATA_DISABLED=true"}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("aws s3 cp: %v\n%s", err, out)
	}
	got, err := get(t, f.regions[0].Client(), f.regions[0].Bucket, "cli/src.bin")
	if err != nil || got != string(data) {
		t.Fatalf("us-east-1 copy: %d bytes, %v; want %d bytes", len(got), err, len(data))
	}
	resp, err := http.Get(f.endpoint + "/" + alias + "/cli/src.bin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("anonymous get status = %d, want 403", resp.StatusCode)
	}
}

// TestStreamingUploadThroughGlobalEndpoint sends a body the SDK cannot seek over TLS, which
// it uploads aws-chunked with a trailing checksum; the proxy decodes it and re-signs.
func TestStreamingUploadThroughGlobalEndpoint(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	p, err := globalendpoint.New(f.table, globalendpoint.Options{
		Alias: alias, Targets: []globalendpoint.Target{{Region: "us-east-1", Endpoint: f.regions[0].Endpoint, Bucket: f.regions[0].Bucket}},
		Credentials: aws.Credentials{AccessKeyID: ak, SecretAccessKey: sk}, Verifier: sigv4verify.New(ak, sk),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(p)
	t.Cleanup(srv.Close)
	c := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true, HTTPClient: srv.Client(),
		Credentials: credentials.NewStaticCredentialsProvider(ak, sk, ""), Retryer: aws.NopRetryer{},
	})
	data := bytes.Repeat([]byte("stream "), 300_000) // 2.1 MB
	var sawChunked bool
	_, err = c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(alias), Key: aws.String("stream"), Body: io.MultiReader(bytes.NewReader(data)),
		ContentLength: aws.Int64(int64(len(data))), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
	}, func(o *s3.Options) {
		o.HTTPClient = recordingClient{srv.Client(), func(r *http.Request) {
			sawChunked = strings.HasPrefix(r.Header.Get("X-Amz-Content-Sha256"), "STREAMING-") || strings.Contains(r.Header.Get("Content-Encoding"), "aws-chunked")
		}}
	})
	if err != nil {
		t.Fatalf("streaming put: %v", err)
	}
	if !sawChunked {
		t.Error("the SDK did not send an aws-chunked body; the test no longer covers the decoder")
	}
	got, err := get(t, f.regions[0].Client(), f.regions[0].Bucket, "stream")
	if err != nil || got != string(data) {
		t.Fatalf("stored %d bytes, %v; want %d", len(got), err, len(data))
	}
}

type recordingClient struct {
	c    *http.Client
	seen func(*http.Request)
}

func (r recordingClient) Do(req *http.Request) (*http.Response, error) {
	r.seen(req)
	return r.c.Do(req)
}

// TestPresignedURLs reads and writes with presigned URLs through the global endpoint.
func TestPresignedURLs(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	pc := s3.NewPresignClient(client(f.endpoint, sk))
	put, err := pc.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(alias), Key: aws.String("pre/signed")})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPut, put.URL, strings.NewReader("presigned body"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("presigned PUT: %d", resp.StatusCode)
	}
	get, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(alias), Key: aws.String("pre/signed")})
	if err != nil {
		t.Fatal(err)
	}
	resp, err = http.Get(get.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "presigned body" {
		t.Fatalf("presigned GET: %d %q", resp.StatusCode, body)
	}
	tampered := strings.Replace(get.URL, "/pre/signed?", "/pre/other?", 1)
	if tampered == get.URL {
		t.Fatalf("cannot tamper with %s", get.URL)
	}
	resp, err = http.Get(tampered)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("tampered presigned GET: %d, want 403", resp.StatusCode)
	}
}
