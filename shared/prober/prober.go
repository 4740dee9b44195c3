// Package prober is the canary prober function of one observer Region (a member or a
// witness): its configuration loader, its wiring over the AWS SDK and its Lambda handler. It
// probes every member other than its own Region over the regional path (write, read and
// delete .mrap-canary/from-{observer} in the target's bucket) and reads the global canary
// through the Multi-Region Access Point, publishing CanaryAvailability and CanaryLatency with
// dimensions Region (target, or "global"), Observer and Path: the votes of the health quorum
// (docs/failover.md). functions/prober only wires it to lambda.Start.
package prober

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/health"
	"github.com/mrap-engine/mrap/shared/telemetry"
)

// GlobalRegion is the Region dimension of the global probe.
const GlobalRegion = "global"

// Config is the prober's configuration (docs/contracts.md, "Environment of the functions").
type Config struct {
	// Observer is the Region the prober runs in (AWS_REGION).
	Observer string
	// Targets are the members other than the observer, Region -> bucket.
	Targets         []config.Member
	ARN             string
	Endpoints       map[string]string
	GlobalEndpoint  string
	CanaryPrefix    string
	MetricNamespace string
}

// LoadConfig reads the prober's environment through lookup, reporting every problem at
// once. A witness Region (no member bucket of its own) is accepted.
func LoadConfig(lookup func(string) (string, bool)) (Config, error) {
	env := config.New(lookup)
	c := Config{
		Observer:        env.Required("AWS_REGION"),
		ARN:             env.Required("MRAP_ARN"),
		Endpoints:       env.Map("MRAP_ENDPOINTS"),
		GlobalEndpoint:  env.String("MRAP_GLOBAL_ENDPOINT", ""),
		CanaryPrefix:    env.String("MRAP_CANARY_PREFIX", health.DefaultCanaryPrefix),
		MetricNamespace: env.String("MRAP_METRIC_NAMESPACE", telemetry.DefaultNamespace),
	}
	members := env.Members("MRAP_MEMBERS")
	for _, m := range members {
		if m.Region != c.Observer {
			c.Targets = append(c.Targets, m)
		}
	}
	if len(c.Targets) == 0 && len(members) > 0 {
		env.Fail("MRAP_MEMBERS", "has no member other than this Region %s to probe", c.Observer)
	}
	if c.ARN != "" && !strings.Contains(c.ARN, ":accesspoint/") {
		env.Fail("MRAP_ARN", "want arn:aws:s3::ACCOUNT:accesspoint/ALIAS, got %q", c.ARN)
	}
	return c, env.Err()
}

// Setup builds the prober: one client per target Region and one for the global path (the
// MRAP ARN as bucket on AWS, which the SDK signs with SigV4A; the alias as bucket on a local
// global endpoint).
func Setup(ctx context.Context, lookup func(string) (string, bool), stdout io.Writer, log *slog.Logger) (*health.Prober, error) {
	cfg, err := LoadConfig(lookup)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(cfg.Observer))
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	var targets []health.Target
	for _, m := range cfg.Targets {
		client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
			o.Region = m.Region
			if ep := cfg.Endpoints[m.Region]; ep != "" {
				o.BaseEndpoint, o.UsePathStyle = aws.String(ep), true
			}
		})
		targets = append(targets, health.Target{Region: m.Region, Path: health.PathRegional, Bucket: m.Bucket, Client: client})
	}
	global, globalBucket := s3.NewFromConfig(awsCfg), cfg.ARN
	if cfg.GlobalEndpoint != "" {
		global = s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.BaseEndpoint, o.UsePathStyle = aws.String(cfg.GlobalEndpoint), true })
		globalBucket = cfg.ARN[strings.LastIndex(cfg.ARN, "/")+1:]
	}
	targets = append(targets, health.Target{Region: GlobalRegion, Path: health.PathGlobal, Bucket: globalBucket, Client: global})
	return health.NewProber(targets, telemetry.NewMetrics(stdout, cfg.MetricNamespace),
		health.ProberOptions{Prefix: cfg.CanaryPrefix, Observer: cfg.Observer, Logger: log})
}

// Report is what one invocation returns: one line per target.
type Report struct {
	Observer  string  `json:"observer"`
	Region    string  `json:"region"`
	Path      string  `json:"path"`
	OK        bool    `json:"ok"`
	LatencyMs float64 `json:"latencyMs"`
	Step      string  `json:"step,omitempty"`
	Error     string  `json:"error,omitempty"`
}

// Handler runs one probe of every target per scheduled event. Failed probes are metrics and
// report lines, never errors.
func Handler(p *health.Prober, observer string) func(context.Context, json.RawMessage) ([]Report, error) {
	return func(ctx context.Context, _ json.RawMessage) ([]Report, error) {
		var out []Report
		for _, r := range p.Probe(ctx) {
			rep := Report{Observer: observer, Region: r.Region, Path: r.Path, OK: r.OK, LatencyMs: float64(r.Latency.Microseconds()) / 1000, Step: r.Step}
			if r.Err != nil {
				rep.Error = r.Err.Error()
			}
			out = append(out, rep)
		}
		return out, nil
	}
}
