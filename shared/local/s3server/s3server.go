// Package s3server starts and stops one versitygw process per local Region: a real S3 API
// (SigV4 checked against the Region, versioning, delete markers, CopyObject, UploadPartCopy,
// tagging, checksums) backed by a folder, so the engine runs whole on one machine.
//
// Each Server owns one bucket, created on first start with versioning enabled. Data lives in
// Options.DataDir and survives restarts:
//
//	DataDir/root/     the posix root (each sub folder is a bucket)
//	DataDir/versions/ the versioning folder (older versions and delete markers)
//
// # Bucket notifications (Options.WebhookURL)
//
// versitygw v1.8.0 (`--event-webhook-url`) POSTs one JSON document per event to the URL,
// Content-Type "application/json; charset=utf-8", from a new goroutine per event (so events
// of one process can arrive out of order), with a 3 s client timeout and no retry: a failed
// delivery is lost (it is printed on the process log). At start-up it first POSTs a test
// message, {"Service":"S3","Event":"s3:TestEvent","Time":"<RFC 3339>","Bucket":"Test-Bucket"};
// if the URL refuses the connection (anything but a timeout) the process exits, so the
// receiver must be listening before Start. Every other message has the classic S3
// notification shape with exactly one record:
//
//	{"Records":[{
//	  "eventVersion":"2.2", "eventSource":"aws:s3", "awsRegion":"<Region>",
//	  "eventTime":"2026-11-25T18:41:34Z",            // RFC 3339, whole seconds, local zone
//	  "eventName":"s3:ObjectCreated:Put",             // see below
//	  "userIdentity":{"PrincipalId":"<access key>"},
//	  "requestParameters":{"sourceIPAddress":"127.0.0.1"},
//	  "responseElements":{"x-amz-request-id":"...","x-amz-id-2":"..."},
//	  "s3":{"s3SchemaVersion":"1.0","configurationId":"webhook-global",
//	        "bucket":{"name":"<bucket>","ownerIdentity":{"PrincipalId":"<owner>"},
//	                  "arn":"arn:aws:s3:::<bucket>/<key>"},
//	        "object":{"key":"<key>","size":123,"eTag":"\"<md5>\"",
//	                  "versionId":null,"sequencer":"1A"}},
//	  "glacierEventData":{"restoreEventData":{"lifecycleRestorationExpiryTime":"",
//	                                          "lifecycleRestoreStorageClass":""}}}]}
//
// Differences from AWS that a bridge to EventBridge envelopes must handle:
//   - eventName is one of s3:ObjectCreated:Put, s3:ObjectCreated:Post, s3:ObjectCreated:Copy,
//     s3:ObjectCreated:CompleteMultipartUpload, s3:ObjectRemoved:Delete (every DeleteObject:
//     a delete marker and a permanent version delete are not told apart), the non-AWS
//     s3:ObjectRemoved:DeleteObjects (one message per key of a multi-object delete),
//     s3:ObjectTagging:Put|Delete, s3:ObjectAcl:Put, s3:ObjectRestore:Completed.
//   - object.versionId is set only for Copy and CompleteMultipartUpload (and per key for
//     DeleteObjects when the request named a version); Put, Post and Delete carry null: look
//     the version up (HeadObject / ListObjectVersions) before building the envelope.
//   - object.key is the request path after "/<bucket>/", decoded (not form-URL-encoded as on
//     AWS); object.size is 0 for Copy, CompleteMultipartUpload and deletes; eTag is null
//     for deletes.
//   - sequencer is a hexadecimal counter per process, without padding, that restarts at 1
//     with the process: it orders events of one process only.
//
// Options.EventFilter selects event names (versitygw `--event-filter`, a JSON object of
// event name to bool, wildcards like "s3:ObjectCreated:*" allowed); nil sends every event.
package s3server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/mrap-engine/mrap/shared/s3store"
)

// Default credentials of a local Region when Options leaves them empty.
const (
	DefaultAccessKey = "mrap-local-access"
	DefaultSecretKey = "mrap-local-secret"
)

// Options configure one local Region.
type Options struct {
	// Binary is the versitygw executable. Empty: `versitygw` on PATH, else ./bin/versitygw
	// under the module root.
	Binary string
	// Region is the AWS Region name the server answers for (required; SigV4 is checked
	// against it).
	Region string
	// DataDir holds the bucket data and versions (required; created if missing, reused).
	DataDir string
	// Port is the TCP port on 127.0.0.1; 0 picks a free one.
	Port int
	// Bucket is the member bucket; empty means "mrap-<Region>".
	Bucket string
	// AccessKey and SecretKey are the root credentials; empty means DefaultAccessKey and
	// DefaultSecretKey.
	AccessKey string
	SecretKey string
	// WebhookURL, when set, receives the bucket notifications (see the package doc). The
	// receiver must be listening before Start.
	WebhookURL string
	// EventFilter selects which event names reach WebhookURL (nil: all).
	EventFilter map[string]bool
	// StartTimeout bounds the wait for the server to answer (default 20s).
	StartTimeout time.Duration
	// StopTimeout bounds the graceful stop before the process is killed (default 5s).
	StopTimeout time.Duration
	// Log, when set, also receives the process output (the last lines are kept regardless).
	Log io.Writer
}

// Server is one running versitygw process serving one Region's bucket.
type Server struct {
	// Endpoint is the S3 endpoint, "http://127.0.0.1:PORT".
	Endpoint string
	// Port is the TCP port the server listens on.
	Port int
	// Bucket is the member bucket (versioning enabled).
	Bucket string
	// Region is the Region the server signs for.
	Region string
	// AccessKey and SecretKey are the server's root credentials.
	AccessKey string
	SecretKey string
	// DataDir is the absolute data folder.
	DataDir string

	cmd      *exec.Cmd
	exited   chan struct{} // closed when the process has exited
	waitErr  error         // set before exited is closed
	log      *tailBuffer
	stopOnce sync.Once
	stopErr  error
	stopWait time.Duration
}

// Start launches versitygw for one Region, waits until it answers, creates the bucket if it
// is missing and enables versioning. On error nothing is left running.
func Start(ctx context.Context, opts Options) (*Server, error) {
	o, err := resolve(opts)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		port := o.Port
		if port == 0 {
			if port, err = freePort(); err != nil {
				return nil, fmt.Errorf("s3server %s: pick a free port: %w", o.Region, err)
			}
		}
		s, err := launch(ctx, o, port)
		if err == nil {
			return s, nil
		}
		// A port picked by us can be taken by someone else before versitygw binds it.
		if o.Port == 0 && attempt < 3 && errors.Is(err, errAddrInUse) {
			continue
		}
		return nil, err
	}
}

var errAddrInUse = errors.New("address already in use")

func resolve(opts Options) (Options, error) {
	if opts.Region == "" {
		return opts, errors.New("s3server: Region is required")
	}
	if opts.DataDir == "" {
		return opts, fmt.Errorf("s3server %s: DataDir is required", opts.Region)
	}
	if opts.Port < 0 || opts.Port > 65535 {
		return opts, fmt.Errorf("s3server %s: invalid port %d", opts.Region, opts.Port)
	}
	dir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return opts, fmt.Errorf("s3server %s: data dir: %w", opts.Region, err)
	}
	opts.DataDir = dir
	if opts.Bucket == "" {
		opts.Bucket = "mrap-" + opts.Region
	}
	if opts.AccessKey == "" {
		opts.AccessKey = DefaultAccessKey
	}
	if opts.SecretKey == "" {
		opts.SecretKey = DefaultSecretKey
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 20 * time.Second
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = 5 * time.Second
	}
	bin, err := FindBinary(opts.Binary)
	if err != nil {
		return opts, err
	}
	opts.Binary = bin
	return opts, nil
}

// FindBinary resolves the versitygw executable: explicit (if non-empty), else `versitygw` on
// PATH, else bin/versitygw under the module root (the folder holding go.mod, searched upward
// from the working directory).
func FindBinary(explicit string) (string, error) {
	if explicit != "" {
		p, err := exec.LookPath(explicit)
		if err != nil {
			return "", fmt.Errorf("s3server: versitygw binary %q: %w (run `make tools`)", explicit, err)
		}
		return filepath.Abs(p)
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return filepath.Abs(p)
	}
	if root, err := moduleRoot(); err == nil {
		p := filepath.Join(root, "bin", "versitygw")
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New("s3server: versitygw not found on PATH nor in ./bin (run `make tools`)")
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found")
		}
		dir = parent
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func launch(ctx context.Context, o Options, port int) (*Server, error) {
	root := filepath.Join(o.DataDir, "root")
	versions := filepath.Join(o.DataDir, "versions")
	for _, d := range []string{root, versions} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("s3server %s: %w", o.Region, err)
		}
	}
	args := []string{
		"--access", o.AccessKey, "--secret", o.SecretKey,
		"--region", o.Region,
		"--port", "127.0.0.1:" + strconv.Itoa(port),
		"--keep-alive", "--quiet",
	}
	if o.WebhookURL != "" {
		args = append(args, "--event-webhook-url", o.WebhookURL)
		if o.EventFilter != nil {
			f := filepath.Join(o.DataDir, "event-filter.json")
			b, err := json.Marshal(o.EventFilter)
			if err != nil {
				return nil, fmt.Errorf("s3server %s: event filter: %w", o.Region, err)
			}
			if err := os.WriteFile(f, b, 0o644); err != nil {
				return nil, fmt.Errorf("s3server %s: event filter: %w", o.Region, err)
			}
			args = append(args, "--event-filter", f)
		}
	}
	args = append(args, "posix", "--versioning-dir", versions, root)

	// Not exec.CommandContext: the server outlives ctx, which only bounds the start.
	cmd := exec.Command(o.Binary, args...)
	cmd.Env = cleanEnv(os.Environ())
	cmd.SysProcAttr = sysProcAttr()
	tail := &tailBuffer{max: 16 << 10}
	var out io.Writer = tail
	if o.Log != nil {
		out = multiWriter{tail, o.Log}
	}
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("s3server %s: start %s: %w", o.Region, o.Binary, err)
	}
	s := &Server{
		Endpoint:  "http://127.0.0.1:" + strconv.Itoa(port),
		Port:      port,
		Bucket:    o.Bucket,
		Region:    o.Region,
		AccessKey: o.AccessKey,
		SecretKey: o.SecretKey,
		DataDir:   o.DataDir,
		cmd:       cmd,
		exited:    make(chan struct{}),
		log:       tail,
		stopWait:  o.StopTimeout,
	}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()

	startCtx, cancel := context.WithTimeout(ctx, o.StartTimeout)
	defer cancel()
	if err := s.waitReady(startCtx); err != nil {
		_ = s.Stop()
		return nil, err
	}
	if err := s.ensureBucket(startCtx); err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("s3server %s: %w; log tail:\n%s", o.Region, err, s.log.String())
	}
	return s, nil
}

// cleanEnv drops the VGW_* variables of the caller so only the command line configures the
// server.
func cleanEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "VGW_") {
			out = append(out, kv)
		}
	}
	return out
}

// waitReady polls the endpoint until it answers HTTP (any status: unsigned requests get 403).
func (s *Server) waitReady(ctx context.Context) error {
	hc := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-s.exited:
			msg := s.log.String()
			if strings.Contains(msg, "address already in use") {
				return fmt.Errorf("s3server %s: port %d: %w: versitygw exited early (%v); log tail:\n%s", s.Region, s.Port, errAddrInUse, s.waitErr, msg)
			}
			return fmt.Errorf("s3server %s: versitygw exited early (%v); log tail:\n%s", s.Region, s.waitErr, msg)
		case <-ctx.Done():
			return fmt.Errorf("s3server %s: versitygw did not answer on %s: %w; log tail:\n%s", s.Region, s.Endpoint, ctx.Err(), s.log.String())
		case <-tick.C:
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint+"/", nil)
		if err != nil {
			return fmt.Errorf("s3server %s: %w", s.Region, err)
		}
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
	}
}

func (s *Server) ensureBucket(ctx context.Context) error {
	c := s.Client()
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.Bucket}); err != nil {
		in := &s3.CreateBucketInput{Bucket: &s.Bucket}
		if s.Region != "us-east-1" {
			in.CreateBucketConfiguration = &types.CreateBucketConfiguration{
				LocationConstraint: types.BucketLocationConstraint(s.Region),
			}
		}
		if _, err := c.CreateBucket(ctx, in); err != nil {
			var owned *types.BucketAlreadyOwnedByYou
			if !errors.As(err, &owned) {
				return fmt.Errorf("create bucket %s: %w", s.Bucket, err)
			}
		}
	}
	_, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  &s.Bucket,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
	})
	if err != nil {
		return fmt.Errorf("enable versioning on %s: %w", s.Bucket, err)
	}
	return nil
}

// Client returns an S3 client for this Region: path-style, static credentials, the server's
// Region and endpoint. optFns adjust the options (for example an HTTP client that counts).
func (s *Server) Client(optFns ...func(*s3.Options)) *s3.Client {
	return s3store.NewClient(s3store.StaticConfig(s.AccessKey, s.SecretKey), s.Region, s.Endpoint, optFns...)
}

// Running reports whether the process is still alive.
func (s *Server) Running() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// LogTail returns the last lines the process printed.
func (s *Server) LogTail() string { return s.log.String() }

// Stop ends the process: SIGTERM, then SIGKILL after the stop timeout. It is idempotent and
// returns the same result on every call. An exit caused by the signal is not an error.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		select {
		case <-s.exited:
			// Already gone: report an unexpected exit.
			if s.waitErr != nil {
				s.stopErr = fmt.Errorf("s3server %s: versitygw had exited: %w", s.Region, s.waitErr)
			}
			return
		default:
		}
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(s.stopWait):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	})
	return s.stopErr
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.TrimSpace(t.buf))
}

type multiWriter []io.Writer

func (m multiWriter) Write(p []byte) (int, error) {
	for _, w := range m {
		_, _ = w.Write(p)
	}
	return len(p), nil
}
