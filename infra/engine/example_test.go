package engine_test

import (
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"

	"github.com/mrap-engine/mrap/infra/engine"
)

// A platform team adds the engine to a CDK app of its own, next to its own stacks: typed
// props (the keys of this repository's cdk.json), its stack names, tags and permissions
// boundary, and an alarm of its own in the control stack. The function binaries are built
// first (make build in this repository, or engine.FunctionBuildCommand for each function).
func ExampleNew() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	platform := awscdk.NewStack(app, jsii.String("Platform"), &awscdk.StackProps{
		Env: &awscdk.Environment{Account: jsii.String("123456789012"), Region: jsii.String("us-east-1")},
	})

	eng, err := engine.New(app, &engine.Props{
		Account:        "123456789012",
		Regions:        []string{"us-east-1", "eu-west-1"},
		WitnessRegions: []string{"us-east-2"},
		Mode:           engine.ModeActivePassive,
		Cooldown:       new(10 * time.Minute),
		AssetDir:       "dist",
		StackName:      func(kind, region string) string { return "storage-" + kind + "-" + region },
		Tags:           map[string]string{"CostCenter": "4711"},
		PermissionsBoundary: awsiam.ManagedPolicy_FromManagedPolicyName(platform, jsii.String("Boundary"),
			jsii.String("platform-boundary")),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}

	// The constructs are the user's to extend: here, page when the reconciler fails.
	reconciler := eng.Control.Reconciler.Function.Function
	awscloudwatch.NewAlarm(eng.Control, jsii.String("PageOnReconcilerErrors"), &awscloudwatch.AlarmProps{
		Metric:            reconciler.MetricErrors(nil),
		Threshold:         jsii.Number(1),
		EvaluationPeriods: jsii.Number(1),
	})
	for _, s := range eng.Stacks() {
		fmt.Println(*s.StackName())
	}
	app.Synth(nil)
}
