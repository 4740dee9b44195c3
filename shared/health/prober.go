package health

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/mrap-engine/mrap/shared/replication"
	"github.com/mrap-engine/mrap/shared/telemetry"
)

// Probe paths, the Path dimension of the canary metrics.
const (
	PathRegional = "regional"
	PathGlobal   = "global"
)

// Metric names of the prober (docs/contracts.md).
const (
	MetricAvailability = "CanaryAvailability"
	MetricLatency      = "CanaryLatency"
)

// DefaultCanaryPrefix is where canary objects live in every member bucket.
const DefaultCanaryPrefix = replication.CanaryPrefix

// ObjectAPI is the part of *s3.Client the prober calls.
type ObjectAPI interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

var _ ObjectAPI = (*s3.Client)(nil)

// Target is one thing the prober measures.
type Target struct {
	// Region names the metric's Region dimension: the bucket's Region for a regional
	// target, the prober's own Region for the global one.
	Region string
	// Path is PathRegional (write, read, delete in one bucket) or PathGlobal (read the
	// global canary through the access point).
	Path string
	// Bucket is the regional bucket, or for the global path the access point ARN (on AWS,
	// which makes the SDK sign with SigV4A) or the local global endpoint's bucket name.
	Bucket string
	Client ObjectAPI
}

// ProberOptions configure a Prober.
type ProberOptions struct {
	// Prefix of canary keys (default DefaultCanaryPrefix).
	Prefix string
	// Observer is the Region the prober runs in, when it probes other Regions (issue 10):
	// every metric line then carries the dimension Observer, and the regional canary key is
	// {Prefix}from-{Observer} in each target bucket. Empty: the single-Region layout.
	Observer string
	// Timeout bounds one target's probe (default 5s).
	Timeout time.Duration
	// Logger receives one line per failed probe; nil discards.
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Result is the outcome of probing one target.
type Result struct {
	Region  string
	Path    string
	OK      bool
	Latency time.Duration
	// Step is the operation that failed (put, get, verify, delete), empty when OK.
	Step string
	Err  error
}

// Prober writes, reads and deletes canary objects and publishes availability and latency.
type Prober struct {
	targets []Target
	metrics *telemetry.Metrics
	opts    ProberOptions
}

// NewProber returns a prober over targets, emitting to metrics (nil discards).
func NewProber(targets []Target, metrics *telemetry.Metrics, opts ProberOptions, optFns ...func(*ProberOptions)) (*Prober, error) {
	for _, fn := range optFns {
		fn(&opts)
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultCanaryPrefix
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	var errs []error
	if len(targets) == 0 {
		errs = append(errs, errors.New("no targets"))
	}
	for i, t := range targets {
		if t.Region == "" || t.Bucket == "" || t.Client == nil {
			errs = append(errs, fmt.Errorf("target %d needs a Region, a bucket and a client", i))
		}
		if t.Path != PathRegional && t.Path != PathGlobal {
			errs = append(errs, fmt.Errorf("target %d path %q is not regional or global", i, t.Path))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("prober: %w", err)
	}
	return &Prober{targets: targets, metrics: metrics, opts: opts}, nil
}

// CanaryKey is the regional canary key of an observer's prober: {Prefix}from-{Observer}.
func (p *Prober) CanaryKey() string { return p.opts.Prefix + "from-" + p.opts.Observer }

// GlobalKey is the canary object read through the global endpoint; every regional probe
// makes sure its bucket holds one.
func (p *Prober) GlobalKey() string { return p.opts.Prefix + "global" }

// Probe measures every target in parallel, emits one metric line per target and returns
// the results in target order. A failed probe is a result, not an error.
func (p *Prober) Probe(ctx context.Context) []Result {
	results := make([]Result, len(p.targets))
	var wg sync.WaitGroup
	for i, t := range p.targets {
		wg.Go(func() { results[i] = p.probe(ctx, t) })
	}
	wg.Wait()
	for _, r := range results {
		avail := 0.0
		if r.OK {
			avail = 1
		}
		dims := map[string]string{"Region": r.Region, "Path": r.Path}
		if p.opts.Observer != "" {
			dims["Observer"] = p.opts.Observer
		}
		p.metrics.Emit(dims,
			telemetry.Metric{Name: MetricAvailability, Unit: telemetry.None, Value: avail},
			telemetry.Metric{Name: MetricLatency, Unit: telemetry.Milliseconds, Value: float64(r.Latency.Microseconds()) / 1000})
		if !r.OK {
			p.opts.Logger.Warn("canary probe failed", "observer", p.opts.Observer, "region", r.Region, "path", r.Path, "step", r.Step, "error", r.Err.Error(), "latencyMs", r.Latency.Milliseconds())
		}
	}
	return results
}

func (p *Prober) probe(ctx context.Context, t Target) Result {
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	start := p.opts.Now()
	res := Result{Region: t.Region, Path: t.Path}
	var step string
	var err error
	if t.Path == PathGlobal {
		step, err = p.readGlobal(ctx, t)
	} else {
		step, err = p.cycle(ctx, t)
	}
	res.Latency = p.opts.Now().Sub(start)
	if err != nil {
		res.Step, res.Err = step, err
		return res
	}
	res.OK = true
	return res
}

// cycle writes a fresh canary, reads it back, checks it and deletes that version, then
// makes sure the global canary exists in the bucket.
func (p *Prober) cycle(ctx context.Context, t Target) (string, error) {
	now := p.opts.Now().UTC()
	key := p.opts.Prefix + t.Region + "/" + strconv.FormatInt(now.UnixNano(), 10)
	if p.opts.Observer != "" {
		// One key per observer in every target bucket; each probe deletes the version it wrote.
		key = p.CanaryKey()
	}
	body := []byte("mrap canary " + t.Region + " " + now.Format(time.RFC3339Nano))
	put, err := t.Client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(t.Bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))), ContentType: aws.String("text/plain"),
	})
	if err != nil {
		return "put", err
	}
	if err := readAndCompare(ctx, t.Client, t.Bucket, key, put.VersionId, body); err != nil {
		return "get", err
	}
	// Delete the exact version so a versioned bucket keeps neither it nor a delete marker.
	if _, err := t.Client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(t.Bucket), Key: aws.String(key), VersionId: put.VersionId}); err != nil {
		return "delete", err
	}
	if _, err := t.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(t.Bucket), Key: aws.String(p.GlobalKey())}); err != nil {
		// 404, or 403 when the role lacks s3:ListBucket: (re)write the small global canary.
		if !isNotFound(err) && !isForbidden(err) {
			return "head global canary", err
		}
		g := []byte("mrap global canary")
		if _, err := t.Client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(t.Bucket), Key: aws.String(p.GlobalKey()), Body: bytes.NewReader(g), ContentLength: aws.Int64(int64(len(g)))}); err != nil {
			return "put global canary", err
		}
	}
	return "", nil
}

func (p *Prober) readGlobal(ctx context.Context, t Target) (string, error) {
	out, err := t.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(t.Bucket), Key: aws.String(p.GlobalKey())})
	if err != nil {
		return "get", err
	}
	defer out.Body.Close()
	if _, err := io.Copy(io.Discard, out.Body); err != nil {
		return "get", fmt.Errorf("read body: %w", err)
	}
	return "", nil
}

func readAndCompare(ctx context.Context, c ObjectAPI, bucket, key string, versionID *string, want []byte) error {
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: versionID})
	if err != nil {
		return err
	}
	defer out.Body.Close()
	got, err := io.ReadAll(io.LimitReader(out.Body, int64(len(want))+1))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("canary body differs: got %d bytes, want %d", len(got), len(want))
	}
	return nil
}

func isForbidden(err error) bool {
	var re *smithyhttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == 403
}

func isNotFound(err error) bool {
	var nf *types.NotFound
	var nsk *types.NoSuchKey
	return errors.As(err, &nf) || errors.As(err, &nsk) || strings.Contains(err.Error(), "StatusCode: 404")
}
