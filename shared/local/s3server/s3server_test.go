package s3server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/mrap-engine/mrap/shared/local/s3server"
)

func start(t *testing.T, opts s3server.Options) *s3server.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := s3server.Start(ctx, opts)
	if err != nil {
		t.Fatalf("Start(%s): %v", opts.Region, err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	return s
}

func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration: starts versitygw")
	}
}

func put(t *testing.T, c *s3.Client, bucket, key, body string) string {
	t.Helper()
	out, err := c.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: &bucket, Key: &key, Body: strings.NewReader(body),
		Metadata: map[string]string{"mrap-origin-region": "test"},
	})
	if err != nil {
		t.Fatalf("PutObject %s: %v", key, err)
	}
	return aws.ToString(out.VersionId)
}

func get(t *testing.T, c *s3.Client, bucket, key string) (string, map[string]string) {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatalf("GetObject %s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return string(b), out.Metadata
}

func TestTwoRegionsServeTheirOwnVersionedBuckets(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	a := start(t, s3server.Options{Region: "us-east-1", DataDir: filepath.Join(dir, "a")})
	b := start(t, s3server.Options{Region: "eu-west-1", DataDir: filepath.Join(dir, "b"), Bucket: "bucket-b"})
	ctx := context.Background()

	if a.Endpoint == b.Endpoint {
		t.Fatalf("both Regions on %s", a.Endpoint)
	}
	if got, want := a.Endpoint, "http://127.0.0.1:"+strconv.Itoa(a.Port); got != want {
		t.Errorf("Endpoint = %q, want %q", got, want)
	}
	if got, want := a.Bucket, "mrap-us-east-1"; got != want {
		t.Errorf("default Bucket = %q, want %q", got, want)
	}
	for _, s := range []*s3server.Server{a, b} {
		c := s.Client()
		v, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &s.Bucket})
		if err != nil {
			t.Fatalf("%s GetBucketVersioning: %v", s.Region, err)
		}
		if v.Status != types.BucketVersioningStatusEnabled {
			t.Errorf("%s versioning = %q, want Enabled", s.Region, v.Status)
		}
		v1 := put(t, c, s.Bucket, "dir/k ey+1", "one "+s.Region)
		v2 := put(t, c, s.Bucket, "dir/k ey+1", "two "+s.Region)
		if v1 == "" || v2 == "" || v1 == v2 {
			t.Errorf("%s version ids %q, %q: want two distinct ids", s.Region, v1, v2)
		}
		body, meta := get(t, c, s.Bucket, "dir/k ey+1")
		if want := "two " + s.Region; body != want {
			t.Errorf("%s body = %q, want %q", s.Region, body, want)
		}
		if meta["mrap-origin-region"] != "test" {
			t.Errorf("%s metadata = %v, want mrap-origin-region=test", s.Region, meta)
		}
		old, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.Bucket, Key: aws.String("dir/k ey+1"), VersionId: &v1})
		if err != nil {
			t.Fatalf("%s GetObject version %s: %v", s.Region, v1, err)
		}
		ob, _ := io.ReadAll(old.Body)
		old.Body.Close()
		if want := "one " + s.Region; string(ob) != want {
			t.Errorf("%s old version body = %q, want %q", s.Region, ob, want)
		}
	}
	// The buckets are separate: b does not see a's object under a's name.
	if _, err := b.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.Bucket, Key: aws.String("only-a")}); err == nil {
		t.Errorf("HeadObject of a missing key in b succeeded")
	}
}

func TestRestartKeepsDataAndVersioning(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	opts := s3server.Options{Region: "eu-west-1", DataDir: dir, Bucket: "keep"}
	s := start(t, opts)
	c := s.Client()
	v1 := put(t, c, s.Bucket, "k", "first")
	put(t, c, s.Bucket, "k", "second")
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if s.Running() {
		t.Fatalf("Running after Stop")
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop = %v, want nil (idempotent)", err)
	}

	opts.Port = s.Port // the local runtime restarts a Region on its old port
	s2 := start(t, opts)
	if s2.Endpoint != s.Endpoint {
		t.Errorf("restart Endpoint = %s, want %s", s2.Endpoint, s.Endpoint)
	}
	c2 := s2.Client()
	if body, _ := get(t, c2, s2.Bucket, "k"); body != "second" {
		t.Errorf("after restart body = %q, want %q", body, "second")
	}
	vs, err := c2.ListObjectVersions(context.Background(), &s3.ListObjectVersionsInput{Bucket: &s2.Bucket})
	if err != nil {
		t.Fatalf("ListObjectVersions: %v", err)
	}
	if len(vs.Versions) != 2 {
		t.Fatalf("after restart %d versions, want 2", len(vs.Versions))
	}
	found := false
	for _, v := range vs.Versions {
		found = found || aws.ToString(v.VersionId) == v1
	}
	if !found {
		t.Errorf("first version %s lost across restart", v1)
	}
	v, err := c2.GetBucketVersioning(context.Background(), &s3.GetBucketVersioningInput{Bucket: &s2.Bucket})
	if err != nil || v.Status != types.BucketVersioningStatusEnabled {
		t.Errorf("versioning after restart = %v, %v; want Enabled", v, err)
	}
}

func TestSignatureForAnotherRegionIsRejected(t *testing.T) {
	skipShort(t)
	s := start(t, s3server.Options{Region: "eu-west-1", DataDir: t.TempDir()})
	wrong := s.Client(func(o *s3.Options) { o.Region = "us-west-2" })
	_, err := wrong.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: &s.Bucket, Key: aws.String("k"), Body: strings.NewReader("x"),
	})
	if err == nil {
		t.Fatalf("PutObject signed for us-west-2 on an eu-west-1 server succeeded")
	}
	if _, err := s.Client().HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &s.Bucket, Key: aws.String("k")}); err == nil {
		t.Errorf("object written despite the rejected signature")
	}
}

func TestPortInUseFailsClearlyAndLeavesNothingRunning(t *testing.T) {
	skipShort(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	_, err = s3server.Start(context.Background(), s3server.Options{Region: "eu-west-1", DataDir: dir, Port: port})
	if err == nil {
		t.Fatalf("Start on a port in use succeeded")
	}
	if !strings.Contains(err.Error(), "exited early") || !strings.Contains(err.Error(), "log tail") {
		t.Errorf("error %q: want it to say the process exited early and show its log", err)
	}
	if pids := childrenUsing(t, dir); len(pids) > 0 {
		t.Errorf("versitygw processes left running: %v", pids)
	}
}

// childrenUsing lists live processes whose command line mentions dir.
func childrenUsing(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("no /proc to inspect")
	}
	var out []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmd, []byte(dir)) {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if f := strings.Fields(string(stat)); len(f) > 2 && f[2] == "Z" {
			continue
		}
		out = append(out, e.Name())
	}
	return out
}

func TestInvalidOptionsAreRejectedBeforeAnythingStarts(t *testing.T) {
	tests := []struct {
		name string
		opts s3server.Options
		want string
	}{
		{"missing Region", s3server.Options{DataDir: "x"}, "Region is required"},
		{"missing DataDir", s3server.Options{Region: "eu-west-1"}, "DataDir is required"},
		{"negative port", s3server.Options{Region: "eu-west-1", DataDir: "x", Port: -1}, "invalid port"},
		{"missing binary", s3server.Options{Region: "eu-west-1", DataDir: "x", Binary: "/nonexistent/versitygw"}, "make tools"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := s3server.Start(context.Background(), tt.opts)
			if err == nil {
				_ = s.Stop()
				t.Fatalf("Start succeeded, want error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestFindBinaryFallsBackToModuleBin(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	got, err := s3server.FindBinary("")
	root, _ := filepath.Abs("../../..")
	want := filepath.Join(root, "bin", "versitygw")
	if _, statErr := os.Stat(want); statErr != nil {
		if err == nil || !strings.Contains(err.Error(), "make tools") {
			t.Fatalf("FindBinary without any versitygw = %q, %v; want an error saying `make tools`", got, err)
		}
		return
	}
	if err != nil || got != want {
		t.Errorf("FindBinary = %q, %v; want %q", got, err, want)
	}
}

func TestWebhookReceivesDocumentedNotifications(t *testing.T) {
	skipShort(t)
	got := make(chan s3server.Notification, 16)
	tests := make(chan map[string]string, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var probe map[string]any
		_ = json.Unmarshal(b, &probe)
		if probe["Event"] == "s3:TestEvent" {
			m := map[string]string{}
			_ = json.Unmarshal(b, &m)
			select {
			case tests <- m:
			default:
			}
			return
		}
		var ev s3server.Notification
		if err := json.Unmarshal(b, &ev); err == nil {
			got <- ev
		}
	}))
	defer hook.Close()

	s := start(t, s3server.Options{
		Region: "eu-west-1", DataDir: t.TempDir(), WebhookURL: hook.URL,
		EventFilter: map[string]bool{"s3:ObjectCreated:*": true, "s3:ObjectRemoved:*": true},
	})
	select {
	case m := <-tests:
		if m["Service"] != "S3" {
			t.Errorf("test event = %v, want Service S3", m)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("no s3:TestEvent at start-up")
	}

	c := s.Client()
	key := "dir/a b+c%d:é"
	put(t, c, s.Bucket, key, "hello")
	ev := wait(t, got)
	if len(ev.Records) != 1 {
		t.Fatalf("records = %d, want 1", len(ev.Records))
	}
	r := ev.Records[0]
	if r.EventName != "s3:ObjectCreated:Put" || r.EventSource != "aws:s3" || r.AWSRegion != "eu-west-1" {
		t.Errorf("event = %s %s %s, want s3:ObjectCreated:Put aws:s3 eu-west-1", r.EventName, r.EventSource, r.AWSRegion)
	}
	if r.S3.Bucket.Name != s.Bucket || r.S3.Object.Key != key {
		t.Errorf("bucket/key = %q/%q, want %q/%q (decoded)", r.S3.Bucket.Name, r.S3.Object.Key, s.Bucket, key)
	}
	if r.S3.Object.Size != 5 || r.S3.Object.ETag == nil || r.S3.Object.Sequencer == "" {
		t.Errorf("object = %+v, want size 5, an etag and a sequencer", r.S3.Object)
	}
	if r.S3.Object.VersionID != nil {
		t.Errorf("Put versionId = %q; the package doc says versitygw sends null", *r.S3.Object.VersionID)
	}
	if _, err := time.Parse(time.RFC3339, r.EventTime); err != nil {
		t.Errorf("eventTime %q: %v", r.EventTime, err)
	}

	if _, err := c.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: &s.Bucket, Key: &key}); err != nil {
		t.Fatalf("DeleteObject: %v", err)
	}
	del := wait(t, got)
	if n := del.Records[0].EventName; n != "s3:ObjectRemoved:Delete" {
		t.Errorf("delete event = %q, want s3:ObjectRemoved:Delete", n)
	}

	// Tagging is filtered out: nothing may arrive for it.
	if _, err := c.PutObjectTagging(context.Background(), &s3.PutObjectTaggingInput{
		Bucket: &s.Bucket, Key: aws.String("other"),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}},
	}); err == nil {
		t.Logf("tagging a missing key succeeded")
	}
	put(t, c, s.Bucket, "after-filter", "x")
	if ev := wait(t, got); ev.Records[0].S3.Object.Key != "after-filter" {
		t.Errorf("next event key = %q, want after-filter (the tagging event is filtered)", ev.Records[0].S3.Object.Key)
	}
}

func wait(t *testing.T, ch <-chan s3server.Notification) s3server.Notification {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatalf("no webhook event within 5s")
	}
	return s3server.Notification{}
}

func TestStopOfAServerThatDiedReportsIt(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	s := start(t, s3server.Options{Region: "eu-west-1", DataDir: dir})
	if !s.Running() {
		t.Fatalf("not Running after Start")
	}
	pids := childrenUsing(t, dir)
	if len(pids) != 1 {
		t.Fatalf("processes using %s: %v, want 1", dir, pids)
	}
	pid, _ := strconv.Atoi(pids[0])
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Running() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	err := s.Stop()
	if err == nil || !strings.Contains(err.Error(), "had exited") {
		t.Errorf("Stop after a crash = %v, want an error saying it had exited", err)
	}
}

func TestWebhookThatRefusesConnectionsStopsTheStart(t *testing.T) {
	skipShort(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/hook"
	l.Close() // nothing listens there any more: connections are refused
	dir := t.TempDir()
	s, err := s3server.Start(context.Background(), s3server.Options{Region: "eu-west-1", DataDir: dir, WebhookURL: closed})
	if err == nil {
		_ = s.Stop()
		t.Fatalf("Start with a refusing webhook succeeded; the package doc says versitygw exits")
	}
	if !strings.Contains(err.Error(), "webhook") {
		t.Errorf("error %q: want the log tail to name the webhook", err)
	}
	if pids := childrenUsing(t, dir); len(pids) > 0 {
		t.Errorf("versitygw processes left running: %v", pids)
	}
}
