// Command failover is the failover Lambda function: alarm state changes, AWS Health events,
// routing commands and scheduled ticks from EventBridge go through shared/failover, which
// reads the current routes and alarms, decides, submits and audits. This file only wires:
// configuration from the environment, clients built once, lambda.Start.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/failover"
	"github.com/mrap-engine/mrap/shared/health"
	"github.com/mrap-engine/mrap/shared/mrap"
	"github.com/mrap-engine/mrap/shared/s3store"
	"github.com/mrap-engine/mrap/shared/telemetry"
)

// LoadConfig reads the function's environment through lookup, reporting every problem at once.
func LoadConfig(lookup func(string) (string, bool)) (failover.Config, error) {
	env := config.New(lookup)
	home := env.Required("AWS_REGION")
	cfg := failover.LoadConfig(env, home)
	return cfg, env.Err()
}

// Setup builds the engine from the environment: AWS clients once, adapters, engine.
func Setup(ctx context.Context, lookup func(string) (string, bool), stdout io.Writer, log *slog.Logger) (*failover.Engine, error) {
	cfg, err := LoadConfig(lookup)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(cfg.StateRegion))
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	// The adapter falls back across control Regions; keep the SDK's own retries short.
	control := s3control.NewFromConfig(awsCfg, func(o *s3control.Options) { o.RetryMaxAttempts = 2 })
	routes, err := mrap.New(control, mrap.Options{
		AccountID: cfg.AccountID, ARN: cfg.ARN, ControlRegions: cfg.ControlRegions,
		Endpoint: cfg.ControlEndpoint, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	alarms := make(map[string]health.AlarmsAPI, len(cfg.Members))
	for _, r := range cfg.Regions() {
		alarms[r] = cloudwatch.NewFromConfig(awsCfg, func(o *cloudwatch.Options) { o.Region = r })
	}
	reader, err := health.NewAlarmReader(alarms, health.AlarmOptions{Prefix: cfg.AlarmPrefix})
	if err != nil {
		return nil, err
	}
	stateClient := s3store.NewClient(awsCfg, cfg.StateRegion, cfg.Endpoints[cfg.StateRegion]) // endpoint: S3-compatible stores (MRAP_ENDPOINTS)
	var notifier failover.Notifier
	if cfg.AuditTopicARN != "" {
		notifier = failover.NewSNSNotifier(sns.NewFromConfig(awsCfg), cfg.AuditTopicARN)
	}
	return failover.New(routes, reader, failover.NewS3StateStore(stateClient, cfg.StateBucket, cfg.StateKey), failover.Options{
		Regions:  cfg.Regions(),
		Policy:   cfg.Policy,
		DryRun:   cfg.DryRun,
		Notifier: notifier,
		Metrics:  telemetry.NewMetrics(stdout, cfg.MetricNamespace),
		Logger:   log,
	})
}

// handler adapts the engine to the Lambda runtime: any EventBridge event in, the outcome out.
func handler(e *failover.Engine) func(context.Context, json.RawMessage) (failover.Outcome, error) {
	return func(ctx context.Context, raw json.RawMessage) (failover.Outcome, error) {
		return e.HandleEvent(ctx, raw)
	}
}

func main() {
	log := telemetry.NewLogger()
	e, err := Setup(context.Background(), os.LookupEnv, os.Stdout, log)
	if err != nil {
		log.Error("failover cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(handler(e))
}
