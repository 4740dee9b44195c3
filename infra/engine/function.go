package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// ErrNoCode reports a missing function binary; the error that wraps it names the binary and
// the command that builds it.
var ErrNoCode = errors.New("function binary missing")

// Code locates the built function binaries: Dir/<fn>/bootstrap.
type Code struct {
	Dir string // the asset directory (Props.AssetDir)
}

// Functions returns the engine's functions, each built to dist/<fn>/bootstrap by `make build`.
func Functions() []string {
	return []string{"replicator", "batch", "prober", "failover", "reconciler"}
}

// FunctionBuildCommand returns the command that builds function fn into dir/<fn>/bootstrap
// for Lambda (provided.al2023, arm64), from any module that requires this one.
func FunctionBuildCommand(dir, fn string) string {
	return fmt.Sprintf("CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -tags lambda.norpc -trimpath -o %s %s/functions/%s",
		filepath.Join(dir, fn, "bootstrap"), modulePath, fn)
}

// modulePath is the module the functions are built from.
const modulePath = "github.com/mrap-engine/mrap"

// Check reports every function of fns whose bootstrap is missing, at once.
func (c Code) Check(fns ...string) error {
	var errs []error
	for _, fn := range fns {
		if err := c.check(fn); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// check reports a missing or unusable bootstrap of fn.
func (c Code) check(fn string) error {
	path := filepath.Join(c.Dir, fn, "bootstrap")
	info, err := os.Stat(path)
	if err == nil && !info.IsDir() {
		return nil
	}
	return fmt.Errorf("%s: %w at %s: run `make build` in the mrap repository, or %s", fn, ErrNoCode, path, FunctionBuildCommand(c.Dir, fn))
}

// Asset returns the Lambda code of function fn, or an error when its bootstrap is missing.
func (c Code) Asset(fn string) (awslambda.Code, error) {
	if err := c.check(fn); err != nil {
		return nil, err
	}
	return awslambda.Code_FromAsset(jsii.String(filepath.Join(c.Dir, fn)), nil), nil
}

// EngineFunctionProps configure one of the engine's Go functions.
type EngineFunctionProps struct {
	Name        string // physical function name, also used for its role and log group
	Description string
	Code        awslambda.Code
	Environment map[string]string
	Timeout     time.Duration
	MemoryMB    int
	// Reserved is the reserved concurrency; 0 leaves the function unreserved.
	Reserved         int
	LogRetentionDays int
}

// EngineFunction is a Go Lambda function the way the engine runs them all: provided.al2023 on
// arm64, handler bootstrap, JSON logs into its own log group with a retention, and its own
// role that may write only to that log group until the owner grants more.
type EngineFunction struct {
	constructs.Construct
	Function awslambda.Function
	Role     awsiam.Role
	LogGroup awslogs.LogGroup
}

// NewEngineFunction creates the function, its role and its log group.
func NewEngineFunction(scope constructs.Construct, id string, p EngineFunctionProps) *EngineFunction {
	c := constructs.NewConstruct(scope, jsii.String(id))

	logGroup := awslogs.NewLogGroup(c, jsii.String("Logs"), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String("/aws/lambda/" + p.Name),
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	logGroup.Node().DefaultChild().(awslogs.CfnLogGroup).AddPropertyOverride(jsii.String("RetentionInDays"), float64(p.LogRetentionDays))

	role := awsiam.NewRole(c, jsii.String("Role"), &awsiam.RoleProps{
		RoleName:    jsii.String(p.Name),
		Description: jsii.String("Execution role of " + p.Name),
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
	})
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("WriteOwnLogs"),
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: jsii.Strings(*logGroup.LogGroupArn()),
	}))

	env := map[string]*string{}
	for k, v := range p.Environment {
		env[k] = jsii.String(v)
	}
	props := &awslambda.FunctionProps{
		FunctionName:  jsii.String(p.Name),
		Description:   jsii.String(p.Description),
		Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:  awslambda.Architecture_ARM_64(),
		Handler:       jsii.String("bootstrap"),
		Code:          p.Code,
		Environment:   &env,
		Timeout:       awscdk.Duration_Seconds(jsii.Number(p.Timeout.Seconds())),
		MemorySize:    jsii.Number(p.MemoryMB),
		Role:          role,
		LogGroup:      logGroup,
		LoggingFormat: awslambda.LoggingFormat_JSON,
		RecursiveLoop: awslambda.RecursiveLoop_TERMINATE,
	}
	if p.Reserved > 0 {
		props.ReservedConcurrentExecutions = jsii.Number(p.Reserved)
	}
	fn := awslambda.NewFunction(c, jsii.String("Function"), props)
	// The function must not start before its role can write its logs.
	fn.Node().AddDependency(role)

	return &EngineFunction{Construct: c, Function: fn, Role: role, LogGroup: logGroup}
}

// newSchedule runs fn every rate, without retries: the next run is the retry.
func newSchedule(scope constructs.Construct, id, name, description string, rate time.Duration, fn awslambda.IFunction) awsevents.Rule {
	return awsevents.NewRule(scope, jsii.String(id), &awsevents.RuleProps{
		RuleName:    jsii.String(name),
		Description: jsii.String(description),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(rate.Minutes()))),
		Targets:     &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(fn, &awseventstargets.LambdaFunctionProps{RetryAttempts: jsii.Number(0)})},
	})
}

// newErrorsAlarm is the operational alarm {name}-ops-{region}-{kind} on the Errors of the
// engine function fn of region: one failed invocation raises it, no data is no error.
func newErrorsAlarm(scope constructs.Construct, n Names, region, fn, kind, description string) awscloudwatch.Alarm {
	return awscloudwatch.NewAlarm(scope, jsii.String("Errors"), &awscloudwatch.AlarmProps{
		AlarmName:          jsii.String(n.OpsAlarm(region, kind)),
		AlarmDescription:   jsii.String(description),
		Metric:             metricSource{names: n, of: region}.lambda(n.Function(fn, region), "Errors", "Sum"),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
}
