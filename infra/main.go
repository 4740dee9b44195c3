// Command infra is the CDK app of the MRAP engine as this repository deploys it: it reads CDK
// context (defaults in cdk.json, overrides with -c key=value) and adds the engine of
// package engine; function code from dist/<fn>/bootstrap (make build).
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/mrap-engine/mrap/infra/engine"
)

func main() {
	defer jsii.Close()
	props := &awscdk.AppProps{}
	if _, ok := os.LookupEnv("CDK_OUTDIR"); !ok {
		props.Outdir = jsii.String("cdk.out") // go run ./infra outside the CDK CLI
	}
	app := awscdk.NewApp(props)
	if _, err := engine.Build(app, engine.Code{Dir: "dist"}); err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(1)
	}
	app.Synth(nil)
}
