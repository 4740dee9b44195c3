package main

import (
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// ProberProps configure the canary prober of one Region.
type ProberProps struct {
	Config Config
	Region string
	Code   awslambda.Code
	// MRAPArn, when set, makes the prober also probe the global path (through the Multi-Region
	// Access Point); it may be a token.
	MRAPArn string
}

// Prober runs the prober function on a schedule: it writes and reads a canary object under
// CanaryPrefix and publishes CanaryAvailability and CanaryLatency.
type Prober struct {
	constructs.Construct
	Function *EngineFunction
	Schedule awsevents.Rule
}

// NewProber creates the scheduled prober, allowed to touch canary objects only.
func NewProber(scope constructs.Construct, id string, p ProberProps) *Prober {
	c := constructs.NewConstruct(scope, jsii.String(id))
	cfg, n := p.Config, p.Config.Names()

	env := map[string]string{
		"MRAP_MEMBERS":          membersEnv(cfg),
		"MRAP_ACCOUNT_ID":       cfg.Account,
		"MRAP_CANARY_PREFIX":    CanaryPrefix,
		"MRAP_METRIC_NAMESPACE": MetricNamespace,
	}
	if p.MRAPArn != "" {
		env["MRAP_ARN"] = p.MRAPArn
	}
	fn := NewEngineFunction(c, "Prober", EngineFunctionProps{
		Name:             n.Function("prober", p.Region),
		Description:      "Writes and reads a canary object in " + p.Region + " and publishes its availability",
		Code:             p.Code,
		Environment:      env,
		Timeout:          30 * time.Second,
		MemoryMB:         256,
		Reserved:         0,
		LogRetentionDays: cfg.LogRetentionDays,
	})

	own := n.BucketArn(p.Region) + "/" + CanaryPrefix + "*"
	reasons := []interface{}{"Resource::" + own}
	fn.Role.AddToPolicy(statement("RegionalCanaries",
		[]string{"s3:PutObject", "s3:GetObject", "s3:GetObjectVersion", "s3:DeleteObject", "s3:DeleteObjectVersion"}, []string{own}))
	// HeadObject of a missing canary answers 404 (not 403) only with ListBucket.
	fn.Role.AddToPolicy(statement("FindCanaries", []string{"s3:ListBucket"}, []string{n.BucketArn(p.Region)}))
	if p.MRAPArn != "" {
		// The global read may be routed to any member bucket.
		global := []string{p.MRAPArn + "/object/" + CanaryPrefix + "*"}
		for _, r := range cfg.Regions {
			global = append(global, n.BucketArn(r)+"/"+CanaryPrefix+"*")
			reasons = append(reasons, "Resource::"+n.BucketArn(r)+"/"+CanaryPrefix+"*")
		}
		fn.Role.AddToPolicy(statement("GlobalCanary", []string{"s3:GetObject"}, global))
		reasons = append(reasons, &cdknag.RegexAppliesTo{Regex: jsii.String("/^Resource::arn:aws:s3::" + cfg.Account + ":accesspoint\\/.*\\/object\\/\\.mrap-canary\\/\\*$/")})
	}
	cdknag.NagSuppressions_AddResourceSuppressions(fn.Role, &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM5"),
		Reason:    jsii.String("Canary objects have generated keys; the wildcard is limited to the canary prefix of the member buckets and the access point."),
		AppliesTo: &reasons,
	}}, jsii.Bool(true))

	schedule := awsevents.NewRule(c, jsii.String("Schedule"), &awsevents.RuleProps{
		RuleName:    jsii.String(n.Function("probe", p.Region)),
		Description: jsii.String("Runs the canary prober of " + p.Region),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(cfg.ProberRate.Minutes()))),
	})
	schedule.AddTarget(awseventstargets.NewLambdaFunction(fn.Function, &awseventstargets.LambdaFunctionProps{
		RetryAttempts: jsii.Number(0), // a late probe is worthless: the next one is due soon
	}))

	return &Prober{Construct: c, Function: fn, Schedule: schedule}
}
