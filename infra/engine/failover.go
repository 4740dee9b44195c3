package engine

import (
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

// failoverTimeout bounds one decision; the view bound must be shorter.
const failoverTimeout = time.Minute

// FailoverProps configure the failover function of one decider Region.
type FailoverProps struct {
	Config     Config
	Region     string // the decider
	Code       awslambda.Code
	MRAPArn    string // arn:aws:s3::ACCOUNT:accesspoint/ALIAS (a token until deploy)
	AuditTopic awssns.ITopic
	AuditKey   awskms.IKey // the topic's key
}

// Failover is the failover function of one decider (reserved concurrency 1) and the rules that
// wake it on its Region's default bus: health alarm state changes of every observer Region
// (forwarded), AWS Health events for S3 about the members (from the member and backup
// Regions), routing commands, and a schedule. Its failures raise an operational alarm.
type Failover struct {
	constructs.Construct
	Function *EngineFunction
	Rules    []awsevents.Rule
	Errors   awscloudwatch.Alarm
}

// NewFailover creates the function with permissions for the routes of this Multi-Region
// Access Point, the health alarms of every observer, its own audit topic and the deciders'
// records in every state copy.
func NewFailover(scope constructs.Construct, id string, p FailoverProps) *Failover {
	c := constructs.NewConstruct(scope, jsii.String(id))
	cfg, n := p.Config, p.Config.Names()
	decider := p.Region // the decider: every name below is of its Region

	fn := NewEngineFunction(c, "Failover", EngineFunctionProps{
		Name:             n.Function("failover", decider),
		Description:      "Decides and submits Multi-Region Access Point routes from alarm, health and command events",
		Code:             p.Code,
		Environment:      failoverEnv(cfg, decider, p.MRAPArn, *p.AuditTopic.TopicArn()),
		Timeout:          failoverTimeout,
		MemoryMB:         256,
		Reserved:         1, // one decision at a time
		LogRetentionDays: cfg.LogRetentionDays,
	})
	grantFailover(fn.Role, cfg, decider, p.MRAPArn)
	fn.Role.AddToPolicy(statement("PublishAudit", []string{"sns:Publish"}, []string{*p.AuditTopic.TopicArn()}))
	fn.Role.AddToPolicy(statement("EncryptAudit", []string{"kms:GenerateDataKey", "kms:Decrypt"}, []string{*p.AuditKey.KeyArn()}))

	target := awseventstargets.NewLambdaFunction(fn.Function, &awseventstargets.LambdaFunctionProps{
		RetryAttempts: jsii.Number(2),
	})
	alarms := awsevents.NewRule(c, jsii.String("HealthAlarms"), &awsevents.RuleProps{
		RuleName:    jsii.String(n.Function("failover-alarms", decider)),
		Description: jsii.String("Health alarm state changes of every observer Region to the failover function"),
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
		RuleName:     jsii.String(n.Function("failover-health", decider)),
		Description:  jsii.String("AWS Health events for S3 about the member Regions to the failover function"),
		EventPattern: s3HealthPattern(cfg.Regions),
		Targets:      &[]awsevents.IRuleTarget{target},
	})
	commands := awsevents.NewRule(c, jsii.String("Commands"), &awsevents.RuleProps{
		RuleName:    jsii.String(n.Function("failover-commands", decider)),
		Description: jsii.String("Operator routing commands (failover, failback, drain) to the failover function"),
		EventPattern: &awsevents.EventPattern{
			Source:     jsii.Strings(commandSource),
			DetailType: jsii.Strings(commandType),
		},
		Targets: &[]awsevents.IRuleTarget{target},
	})

	reevaluate := newSchedule(c, "Reevaluate", n.Function("failover-reevaluate", decider),
		"Periodic re-evaluation of every health alarm (failback after its window, missed events)", cfg.ReevaluateRate, fn.Function)
	errs := newErrorsAlarm(c, n, decider, "failover", "failover-errors", "The failover function failed; routing decisions may be missing.")

	return &Failover{Construct: c, Function: fn, Rules: []awsevents.Rule{alarms, health, commands, reevaluate}, Errors: errs}
}

// failoverEnv is the environment of decider's failover function (docs/contracts.md): the
// settings every decider shares and its own.
func failoverEnv(cfg Config, decider, mrapArn, topicArn string) map[string]string {
	env := sharedFailoverEnv(cfg)
	env["MRAP_DECIDER"] = decider
	env["MRAP_ARN"] = mrapArn
	env["MRAP_CONTROL_REGIONS"] = strings.Join(RoutesAPIOrder(decider), ",")
	env["MRAP_AUDIT_TOPIC_ARN"] = topicArn
	return env
}

// sharedFailoverEnv is the part of the failover function's environment every decider shares;
// the control stack publishes it in its settings output for mrapctl.
func sharedFailoverEnv(cfg Config) map[string]string {
	n := cfg.Names()
	env := map[string]string{
		"MRAP_MEMBERS":           membersEnv(cfg),
		"MRAP_DECIDERS":          strings.Join(cfg.Deciders, ","),
		"MRAP_STATE_COPIES":      stateCopiesEnv(cfg),
		"MRAP_STATE_PREFIX":      FailoverStatePrefix,
		"MRAP_LEASE_TTL":         cfg.LeaseTTL.String(),
		"MRAP_VIEW_BOUND":        cfg.ViewBound.String(),
		"MRAP_MAX_SKEW":          cfg.MaxSkew.String(),
		"MRAP_ACCOUNT_ID":        cfg.Account,
		"MRAP_ROUTING_MODE":      cfg.Mode,
		"MRAP_PRIORITY":          strings.Join(cfg.Priority, ","),
		"MRAP_MIN_ACTIVE":        strconv.Itoa(cfg.MinActive),
		"MRAP_COOLDOWN":          cfg.Cooldown.String(),
		"MRAP_FAILBACK":          strconv.FormatBool(cfg.Failback),
		"MRAP_FAILBACK_WINDOW":   cfg.FailbackWindow.String(),
		"MRAP_INSUFFICIENT_DATA": cfg.InsufficientData,
		"MRAP_ALARM_PREFIX":      n.AlarmPrefix(),
		"MRAP_DRY_RUN":           strconv.FormatBool(cfg.DryRun),
		"MRAP_METRIC_NAMESPACE":  MetricNamespace,
	}
	if len(cfg.Witnesses) > 0 {
		env["MRAP_WITNESSES"] = strings.Join(cfg.Witnesses, ",")
	}
	return env
}

// stateCopiesEnv renders MRAP_STATE_COPIES: region=bucket of the state bucket of every
// Region of S.
func stateCopiesEnv(cfg Config) string {
	var parts []string
	for _, r := range cfg.StateRegions() {
		parts = append(parts, r+"="+cfg.Names().StateBucket(r))
	}
	return strings.Join(parts, ",")
}

// grantFailover allows decider the routes calls on this access point, DescribeAlarms on the
// health alarms each observer raises in its Region, reading every decider's record in every
// state copy and writing only its own.
func grantFailover(role awsiam.Role, cfg Config, decider, mrapArn string) {
	n := cfg.Names()
	role.AddToPolicy(statement("RoutesOfThisAccessPoint",
		[]string{"s3:GetMultiRegionAccessPointRoutes", "s3:SubmitMultiRegionAccessPointRoutes"}, []string{mrapArn}))

	var alarmArns, reads, writes, buckets []string
	var alarmFindings, readFindings []interface{}
	for _, o := range cfg.Observers() {
		a := n.ObserverAlarmArnPattern(o)
		alarmArns = append(alarmArns, a)
		alarmFindings = append(alarmFindings, "Resource::"+a)
	}
	for _, r := range cfg.StateRegions() {
		read := n.StateBucketArn(r) + "/" + DeciderRecordsPrefix + "*"
		reads = append(reads, read)
		readFindings = append(readFindings, "Resource::"+read)
		writes = append(writes, n.StateBucketArn(r)+"/"+DeciderRecordKey(decider))
		buckets = append(buckets, n.StateBucketArn(r))
	}
	role.AddToPolicy(statement("DescribeObserverAlarms", []string{"cloudwatch:DescribeAlarms"}, alarmArns))
	role.AddToPolicy(statement("ReadDeciderRecords", []string{"s3:GetObject"}, reads))
	role.AddToPolicy(statement("WriteOwnRecord", []string{"s3:PutObject"}, writes))
	// GetObject of a record not written yet answers 404 (not 403) only with ListBucket.
	role.AddToPolicy(statement("FindDeciderRecords", []string{"s3:ListBucket"}, buckets))

	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM5"),
		Reason:    jsii.String("DescribeAlarms is scoped to the health alarms each observer Region raises ({MRAP_ALARM_PREFIX}{target}-from-{observer}-*), the only alarms the failover quorum reads; target names vary with the members."),
		AppliesTo: &alarmFindings,
	}, {
		Id:        jsii.String("AwsSolutions-IAM5"),
		Reason:    jsii.String("Every decider reads the records of all deciders ({MRAP_STATE_PREFIX}deciders/{decider}.json) in every state copy to merge them; writes are granted on its own record only."),
		AppliesTo: &readFindings,
	}}, jsii.Bool(true))
}
