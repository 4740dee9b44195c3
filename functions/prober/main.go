// Command prober is the scheduled canary Lambda function of one Region: it writes, reads and
// deletes a canary object in this Region's member bucket and reads the global canary through
// the Multi-Region Access Point, publishing CanaryAvailability and CanaryLatency (EMF), the
// health signal the failover alarms watch. This file only wires.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/health"
	"github.com/mrap-engine/mrap/shared/s3store"
	"github.com/mrap-engine/mrap/shared/telemetry"
)

// Config is the prober's configuration (docs/contracts.md, "Environment of the functions").
type Config struct {
	Region          string
	Bucket          string
	ARN             string
	Endpoints       map[string]string
	GlobalEndpoint  string
	CanaryPrefix    string
	MetricNamespace string
}

// LoadConfig reads the prober's environment through lookup, reporting every problem at once.
func LoadConfig(lookup func(string) (string, bool)) (Config, error) {
	env := config.New(lookup)
	c := Config{
		Region:          env.Required("AWS_REGION"),
		ARN:             env.Required("MRAP_ARN"),
		Endpoints:       env.Map("MRAP_ENDPOINTS"),
		GlobalEndpoint:  env.String("MRAP_GLOBAL_ENDPOINT", ""),
		CanaryPrefix:    env.String("MRAP_CANARY_PREFIX", health.DefaultCanaryPrefix),
		MetricNamespace: env.String("MRAP_METRIC_NAMESPACE", telemetry.DefaultNamespace),
	}
	for _, m := range env.Members("MRAP_MEMBERS") {
		if m.Region == c.Region {
			c.Bucket = m.Bucket
		}
	}
	if c.Bucket == "" && c.Region != "" {
		env.Fail("MRAP_MEMBERS", "has no bucket for this function's Region %s", c.Region)
	}
	if c.ARN != "" && !strings.Contains(c.ARN, ":accesspoint/") {
		env.Fail("MRAP_ARN", "want arn:aws:s3::ACCOUNT:accesspoint/ALIAS, got %q", c.ARN)
	}
	return c, env.Err()
}

// Setup builds the prober: a client for this Region's bucket and one for the global path
// (the MRAP ARN as bucket on AWS, which the SDK signs with SigV4A; the alias as bucket on a
// local global endpoint).
func Setup(ctx context.Context, lookup func(string) (string, bool), stdout io.Writer, log *slog.Logger) (*health.Prober, error) {
	cfg, err := LoadConfig(lookup)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(cfg.Region))
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	regional := s3store.NewClient(awsCfg, cfg.Region, cfg.Endpoints[cfg.Region])
	global, globalBucket := s3store.NewClient(awsCfg, "", cfg.GlobalEndpoint), cfg.ARN
	if cfg.GlobalEndpoint != "" {
		globalBucket = cfg.ARN[strings.LastIndex(cfg.ARN, "/")+1:]
	}
	return health.NewProber([]health.Target{
		{Region: cfg.Region, Path: health.PathRegional, Bucket: cfg.Bucket, Client: regional},
		{Region: cfg.Region, Path: health.PathGlobal, Bucket: globalBucket, Client: global},
	}, telemetry.NewMetrics(stdout, cfg.MetricNamespace), health.ProberOptions{Prefix: cfg.CanaryPrefix, Logger: log})
}

// ProbeReport is what one invocation returns: one line per target.
type ProbeReport struct {
	Region    string  `json:"region"`
	Path      string  `json:"path"`
	OK        bool    `json:"ok"`
	LatencyMs float64 `json:"latencyMs"`
	Step      string  `json:"step,omitempty"`
	Error     string  `json:"error,omitempty"`
}

// handler runs one probe per scheduled event. Failed probes are metrics, not errors.
func handler(p *health.Prober) func(context.Context, json.RawMessage) ([]ProbeReport, error) {
	return func(ctx context.Context, _ json.RawMessage) ([]ProbeReport, error) {
		var out []ProbeReport
		for _, r := range p.Probe(ctx) {
			rep := ProbeReport{Region: r.Region, Path: r.Path, OK: r.OK, LatencyMs: float64(r.Latency.Microseconds()) / 1000, Step: r.Step}
			if r.Err != nil {
				rep.Error = r.Err.Error()
			}
			out = append(out, rep)
		}
		return out, nil
	}
}

func main() {
	log := telemetry.NewLogger()
	p, err := Setup(context.Background(), os.LookupEnv, os.Stdout, log)
	if err != nil {
		log.Error("prober cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(handler(p))
}
