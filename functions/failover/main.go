// Command failover is the failover Lambda function of one decider Region: alarm state
// changes, AWS Health events, routing commands and scheduled ticks from EventBridge go
// through shared/failover (failover.Setup builds the engine from the environment). This file
// only wires.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/mrap-engine/mrap/shared/failover"
	"github.com/mrap-engine/mrap/shared/telemetry"
)

func main() {
	log := telemetry.NewLogger()
	e, err := failover.Setup(context.Background(), os.LookupEnv, os.Stdout, log)
	if err != nil {
		log.Error("failover cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(failover.Handler(e))
}
