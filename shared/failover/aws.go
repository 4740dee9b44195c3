package failover

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/docstore"
	"github.com/mrap-engine/mrap/shared/health"
	"github.com/mrap-engine/mrap/shared/mrap"
	"github.com/mrap-engine/mrap/shared/telemetry"
)

// AWSReaders are a decider's adapters on AWS: the routes API (own Region first), the quorum
// health over one CloudWatch client per observer Region, one S3 state store per state copy.
type AWSReaders struct {
	Routes *mrap.Client
	Health *health.QuorumReader
	Copies StateCopies
}

// NewAWSReaders builds the adapters of cfg from awsCfg: the failover function's engine and
// mrapctl's status read through the same ones.
func NewAWSReaders(cfg Config, awsCfg aws.Config, log *slog.Logger) (AWSReaders, error) {
	// The adapter falls back across control Regions; keep the SDK's own retries short.
	control := s3control.NewFromConfig(awsCfg, func(o *s3control.Options) { o.RetryMaxAttempts = 2 })
	routes, err := mrap.New(control, mrap.Options{
		AccountID: cfg.AccountID, ARN: cfg.ARN, ControlRegions: cfg.ControlRegions,
		Endpoint: cfg.ControlEndpoint, Logger: log,
	})
	if err != nil {
		return AWSReaders{}, err
	}
	topo := cfg.Topology()
	alarms := map[string]health.AlarmsAPI{}
	for _, r := range topo.Observers() {
		alarms[r] = cloudwatch.NewFromConfig(awsCfg, func(o *cloudwatch.Options) { o.Region = r; o.RetryMaxAttempts = 2 })
	}
	reader, err := health.NewAlarmReader(alarms, health.AlarmOptions{Prefix: cfg.AlarmPrefix})
	if err != nil {
		return AWSReaders{}, err
	}
	quorum, err := health.NewQuorumReader(reader, topo)
	if err != nil {
		return AWSReaders{}, err
	}
	copies := StateCopies{}
	for r, bucket := range cfg.StateCopies {
		client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
			o.Region = r
			o.RetryMaxAttempts = 2
			if ep := cfg.Endpoints[r]; ep != "" {
				o.BaseEndpoint, o.UsePathStyle = aws.String(ep), true
			}
		})
		if copies[r], err = docstore.NewS3(client, bucket); err != nil {
			return AWSReaders{}, fmt.Errorf("state copy %s: %w", r, err)
		}
	}
	return AWSReaders{Routes: routes, Health: quorum, Copies: copies}, nil
}

// NewAWS builds the engine of one decider on AWS from its configuration: NewAWSReaders and
// the audit topic of the decider's Region. The failover function and `mrapctl` (against AWS)
// both build their engine here.
func NewAWS(cfg Config, awsCfg aws.Config, stdout io.Writer, log *slog.Logger, optFns ...func(*Options)) (*Engine, error) {
	r, err := NewAWSReaders(cfg, awsCfg, log)
	if err != nil {
		return nil, err
	}
	var notifier Notifier
	if cfg.AuditTopicARN != "" {
		notifier = NewSNSNotifier(sns.NewFromConfig(awsCfg, func(o *sns.Options) { o.Region = cfg.Decider }), cfg.AuditTopicARN)
	}
	return New(r.Routes, r.Health, r.Copies, Options{
		Regions:   cfg.Regions(),
		Policy:    cfg.Policy,
		Decider:   cfg.Decider,
		Deciders:  cfg.Deciders,
		Prefix:    cfg.StatePrefix,
		LeaseTTL:  cfg.LeaseTTL,
		ViewBound: cfg.ViewBound,
		MaxSkew:   cfg.MaxSkew,
		DryRun:    cfg.DryRun,
		Notifier:  notifier,
		Metrics:   telemetry.NewMetrics(stdout, cfg.MetricNamespace),
		Logger:    log,
	}, optFns...)
}

// LoadEnv reads the failover function's environment through lookup (AWS_REGION is the
// decider unless MRAP_DECIDER says otherwise), reporting every problem at once.
func LoadEnv(lookup func(string) (string, bool)) (Config, error) {
	env := config.New(lookup)
	home := env.Required("AWS_REGION")
	cfg := LoadConfig(env, home)
	return cfg, env.Err()
}

// Setup builds the failover function's engine from its environment: configuration, the AWS
// SDK configuration of the decider's Region, NewAWS. Clients are built once.
func Setup(ctx context.Context, lookup func(string) (string, bool), stdout io.Writer, log *slog.Logger) (*Engine, error) {
	cfg, err := LoadEnv(lookup)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(cfg.Decider))
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	return NewAWS(cfg, awsCfg, stdout, log)
}

// Handler adapts the engine to the Lambda runtime: any EventBridge event in, the outcome out.
func Handler(e *Engine) func(context.Context, json.RawMessage) (Outcome, error) {
	return func(ctx context.Context, raw json.RawMessage) (Outcome, error) {
		return e.HandleEvent(ctx, raw)
	}
}
