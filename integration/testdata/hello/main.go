// Command hello is the cold start baseline of BenchmarkColdStart: the smallest aws-lambda-go
// handler, built exactly like the engine's functions (linux, CGO_ENABLED=0, -tags lambda.norpc,
// -trimpath, -ldflags "-s -w").
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(_ context.Context, _ json.RawMessage) (string, error) {
		return "hello", nil
	})
}
