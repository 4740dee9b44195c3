// Command infra is the CDK app of the MRAP engine as this repository deploys it: it reads the
// engine's Props from CDK context (defaults in cdk.json, overrides with -c key=value) and adds
// the engine of package engine to the app; function code from dist/<fn>/bootstrap (make build).
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
	if err := run(app); err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(1)
	}
	app.Synth(nil)
}

// run adds the engine configured by app's context to app.
func run(app awscdk.App) error {
	p, err := engine.PropsFromContext(engine.ContextOf(app))
	if err != nil {
		return err
	}
	p.AssetDir = "dist"
	if _, err := engine.New(app, &p); err != nil {
		return fmt.Errorf("%w (set with cdk.json context or -c key=value)", err)
	}
	return nil
}
