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

	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/failover"
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
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(cfg.Decider))
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	return failover.NewAWS(cfg, awsCfg, stdout, log)
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
