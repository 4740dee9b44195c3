package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// FailoverProps configure the failover function of the home Region.
type FailoverProps struct {
	Config     Config
	Code       awslambda.Code
	MRAPArn    string // arn:aws:s3::ACCOUNT:accesspoint/ALIAS (a token until deploy)
	AuditTopic awssns.ITopic
	AuditKey   awskms.IKey // the topic's key
}

// Failover is the failover function (reserved concurrency 1) and the rules that wake it:
// health alarm state changes from every Region, AWS Health events for S3 in the member
// Regions, routing commands, and a schedule. Its failures raise an operational alarm.
type Failover struct {
	constructs.Construct
	Function *EngineFunction
	Rules    []awsevents.Rule
	Errors   awscloudwatch.Alarm
}

// NewFailover creates the function with permissions for the routes of this Multi-Region
// Access Point, the engine's health alarms, the audit topic and its state object.
func NewFailover(scope constructs.Construct, id string, p FailoverProps) *Failover {
	c := constructs.NewConstruct(scope, jsii.String(id))
	cfg, n := p.Config, p.Config.Names()
	home := cfg.HomeRegion

	fn := NewEngineFunction(c, "Failover", EngineFunctionProps{
		Name:        n.Function("failover", home),
		Description: "Decides and submits Multi-Region Access Point routes from alarm, health and command events",
		Code:        p.Code,
		Environment: map[string]string{
			"MRAP_MEMBERS":           membersEnv(cfg),
			"MRAP_ACCOUNT_ID":        cfg.Account,
			"MRAP_ARN":               p.MRAPArn,
			"MRAP_CONTROL_REGIONS":   strings.Join(cfg.ControlRegions(), ","),
			"MRAP_ROUTING_MODE":      cfg.Mode,
			"MRAP_PRIORITY":          strings.Join(cfg.Priority, ","),
			"MRAP_MIN_ACTIVE":        strconv.Itoa(cfg.MinActive),
			"MRAP_COOLDOWN":          cfg.Cooldown.String(),
			"MRAP_FAILBACK":          strconv.FormatBool(cfg.Failback),
			"MRAP_FAILBACK_WINDOW":   cfg.FailbackWindow.String(),
			"MRAP_INSUFFICIENT_DATA": cfg.InsufficientData,
			"MRAP_ALARM_PREFIX":      n.AlarmPrefix(),
			"MRAP_DRY_RUN":           strconv.FormatBool(cfg.DryRun),
			"MRAP_AUDIT_TOPIC_ARN":   *p.AuditTopic.TopicArn(),
			"MRAP_METRIC_NAMESPACE":  MetricNamespace,
			"MRAP_STATE_BUCKET":      n.StateBucket(home),
			"MRAP_STATE_KEY":         FailoverStateKey,
		},
		Timeout:          time.Minute,
		MemoryMB:         256,
		Reserved:         1, // one decision at a time
		LogRetentionDays: cfg.LogRetentionDays,
	})
	grantFailover(fn.Role, cfg, p.MRAPArn)
	state := "arn:aws:s3:::" + n.StateBucket(home)
	fn.Role.AddToPolicy(statement("ReadWriteState", []string{"s3:GetObject", "s3:PutObject"}, []string{state + "/" + FailoverStateKey}))
	// GetObject of the state object before its first save answers 404 (not 403) only with ListBucket.
	fn.Role.AddToPolicy(statement("FindState", []string{"s3:ListBucket"}, []string{state}))
	fn.Role.AddToPolicy(statement("PublishAudit", []string{"sns:Publish"}, []string{*p.AuditTopic.TopicArn()}))
	fn.Role.AddToPolicy(statement("EncryptAudit", []string{"kms:GenerateDataKey", "kms:Decrypt"}, []string{*p.AuditKey.KeyArn()}))

	target := awseventstargets.NewLambdaFunction(fn.Function, &awseventstargets.LambdaFunctionProps{
		RetryAttempts: jsii.Number(2),
	})
	alarms := awsevents.NewRule(c, jsii.String("HealthAlarms"), &awsevents.RuleProps{
		RuleName:    jsii.String(n.Function("failover-alarms", home)),
		Description: jsii.String("Health alarm state changes of every member Region to the failover function"),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings(alarmSource),
			DetailType: jsii.Strings(alarmDetailType),
			Detail: &map[string]interface{}{
				"alarmName": awsevents.Match_Prefix(jsii.String(n.AlarmPrefix())),
			},
		},
		Targets: &[]awsevents.IRuleTarget{target},
	})
	health := awsevents.NewRule(c, jsii.String("HealthEvents"), &awsevents.RuleProps{
		RuleName:     jsii.String(n.Function("failover-health", home)),
		Description:  jsii.String("AWS Health events for S3 in the member Regions to the failover function"),
		EventPattern: s3HealthPattern(cfg.Regions),
		Targets:      &[]awsevents.IRuleTarget{target},
	})
	commands := awsevents.NewRule(c, jsii.String("Commands"), &awsevents.RuleProps{
		RuleName:    jsii.String(n.Function("failover-commands", home)),
		Description: jsii.String("Operator routing commands (failover, failback, drain) to the failover function"),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings(commandSource),
			DetailType: jsii.Strings(commandType),
		},
		Targets: &[]awsevents.IRuleTarget{target},
	})

	reevaluate := awsevents.NewRule(c, jsii.String("Reevaluate"), &awsevents.RuleProps{
		RuleName:    jsii.String(n.Function("failover-reevaluate", home)),
		Description: jsii.String("Periodic re-evaluation of every health alarm (failback after its window, missed events)"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(cfg.ReevaluateRate.Minutes()))),
		Targets:     &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(fn.Function, &awseventstargets.LambdaFunctionProps{RetryAttempts: jsii.Number(0)})},
	})

	errs := awscloudwatch.NewAlarm(c, jsii.String("Errors"), &awscloudwatch.AlarmProps{
		AlarmName:          jsii.String(n.OpsAlarm(home, "failover-errors")),
		AlarmDescription:   jsii.String("The failover function failed; routing decisions may be missing."),
		Metric:             metricSource{names: n, of: home}.lambda(n.Function("failover", home), "Errors", "Sum"),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})

	return &Failover{Construct: c, Function: fn, Rules: []awsevents.Rule{alarms, health, commands, reevaluate}, Errors: errs}
}

// grantFailover allows the routes calls on this access point and DescribeAlarms on the health
// alarms of each member Region.
func grantFailover(role awsiam.Role, cfg Config, mrapArn string) {
	n := cfg.Names()
	role.AddToPolicy(statement("RoutesOfThisAccessPoint",
		[]string{"s3:GetMultiRegionAccessPointRoutes", "s3:SubmitMultiRegionAccessPointRoutes"}, []string{mrapArn}))

	var alarms []interface{}
	var alarmArns []string
	for _, r := range cfg.Regions {
		a := n.HealthAlarmArnPattern(r)
		alarmArns = append(alarmArns, a)
		alarms = append(alarms, "Resource::"+a)
	}
	role.AddToPolicy(statement("DescribeHealthAlarms", []string{"cloudwatch:DescribeAlarms"}, alarmArns))

	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM5"),
		Reason:    jsii.String("DescribeAlarms is scoped to the health alarms of each member Region by name prefix ({MRAP_ALARM_PREFIX}{region}-*), the only alarms the failover policy reads."),
		AppliesTo: &alarms,
	}}, jsii.Bool(true))
}
