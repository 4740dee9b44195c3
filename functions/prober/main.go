// Command prober is the scheduled canary Lambda function of one observer Region (a member or
// a witness): shared/prober probes every other member and the access point and publishes the
// metrics the health alarms of that observer watch. This file only wires.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/mrap-engine/mrap/shared/prober"
	"github.com/mrap-engine/mrap/shared/telemetry"
)

func main() {
	log := telemetry.NewLogger()
	p, err := prober.Setup(context.Background(), os.LookupEnv, os.Stdout, log)
	if err != nil {
		log.Error("prober cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(prober.Handler(p, os.Getenv("AWS_REGION")))
}
