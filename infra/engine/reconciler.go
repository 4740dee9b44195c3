package engine

import (
	"strconv"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// ReconcileCheckpointKey is the key of the reconciler's pass checkpoint in the state bucket.
const ReconcileCheckpointKey = StateKeyPrefix + "reconcile/checkpoint.json"

// ReconcileIndexPrefix is where the reconciler keeps its verified-versions index (two slots of
// chunks, overwritten pass after pass) in the state bucket, next to the checkpoint.
const ReconcileIndexPrefix = StateKeyPrefix + "reconcile/index/"

// reconcilerTimeout is the Lambda maximum: each invocation continues the pass for a budget
// a minute shorter, then checkpoints.
const reconcilerTimeout = 15 * time.Minute

// ReconcilerProps configure the scheduled anti-entropy function of the home Region.
type ReconcilerProps struct {
	Config Config
	Code   awslambda.Code
}

// Reconciler runs the reconciler on a schedule, one invocation at a time: each continues the
// reconcile pass over every member bucket from its checkpoint in the state bucket and repairs
// what the replicator missed. Its failures, and divergence it finds pass after pass, raise
// operational alarms.
type Reconciler struct {
	constructs.Construct
	Function *EngineFunction
	Schedule awsevents.Rule
	Errors   awscloudwatch.Alarm
	// Divergence is an operational alarm on the Divergence metric: divergence found in two
	// consecutive reconcile periods. It notifies (audit topic) and never fails over.
	Divergence awscloudwatch.Alarm
}

// NewReconciler creates the function, its schedule and alarm; it may read and repair every
// member bucket and touch only its own checkpoint and index in the state bucket.
func NewReconciler(scope constructs.Construct, id string, p ReconcilerProps) *Reconciler {
	c := constructs.NewConstruct(scope, jsii.String(id))
	cfg, n := p.Config, p.Config.Names()
	home := cfg.HomeRegion
	state := "arn:aws:s3:::" + n.StateBucket(home)

	env := map[string]string{
		"MRAP_MEMBERS":                     membersEnv(cfg),
		"MRAP_METRIC_NAMESPACE":            MetricNamespace,
		"MRAP_RECONCILE_CHECKPOINT":        "s3://" + n.StateBucket(home) + "/" + ReconcileCheckpointKey,
		"MRAP_RECONCILE_CHECKPOINT_REGION": home,
		"MRAP_RECONCILE_INDEX":             "s3://" + n.StateBucket(home) + "/" + ReconcileIndexPrefix,
		"MRAP_RECONCILE_BUDGET":            (reconcilerTimeout - time.Minute).String(),
		"MRAP_DRY_RUN":                     strconv.FormatBool(cfg.ReconcileDryRun),
	}
	if cfg.StorageClass != "" {
		env["MRAP_STORAGE_CLASS"] = cfg.StorageClass
	}
	fn := NewEngineFunction(c, "Reconciler", EngineFunctionProps{
		Name:             n.Function("reconciler", home),
		Description:      "Continues the anti-entropy pass over every member bucket and repairs divergent keys",
		Code:             p.Code,
		Environment:      env,
		Timeout:          reconcilerTimeout,
		MemoryMB:         1024,
		Reserved:         1, // one pass, one checkpoint
		LogRetentionDays: cfg.LogRetentionDays,
	})
	grantMemberRepairs(fn.Role, cfg)
	fn.Role.AddToPolicy(statement("Checkpoint", []string{"s3:GetObject", "s3:PutObject"}, []string{state + "/" + ReconcileCheckpointKey}))
	fn.Role.AddToPolicy(statement("Index", []string{"s3:GetObject", "s3:PutObject"}, []string{state + "/" + ReconcileIndexPrefix + "*"}))
	suppress(fn.Role, "AwsSolutions-IAM5", "The verified-versions index is a set of chunk objects whose names the reconciler chooses pass after pass; the wildcard is limited to its prefix in the state bucket.",
		"Resource::"+state+"/"+ReconcileIndexPrefix+"*")
	// GetObject of the checkpoint before the first pass answers 404 (not 403) only with ListBucket.
	fn.Role.AddToPolicy(statement("FindCheckpoint", []string{"s3:ListBucket"}, []string{state}))

	schedule := newSchedule(c, "Schedule", n.Function("reconcile", home),
		"Runs the reconciler, which continues its pass from the checkpoint", cfg.ReconcileRate, fn.Function)
	errs := newErrorsAlarm(c, n, home, "reconciler", "reconciler-errors", "The reconciler failed; divergent keys may stay unrepaired.")
	divergence := awscloudwatch.NewAlarm(c, jsii.String("Divergence"), &awscloudwatch.AlarmProps{
		AlarmName:          jsii.String(n.OpsAlarm(home, AlarmDivergence)),
		AlarmDescription:   jsii.String("The reconciler found member buckets that differ from the winning write in two consecutive reconcile periods: the replicator is missing changes (see the replicator alarms and the dead-letter queues). Notifies only; never fails over."),
		Metric:             divergenceMetric(n, home, cfg.ReconcileRate),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		Threshold:          jsii.Number(0),
		EvaluationPeriods:  jsii.Number(DivergencePeriods),
		DatapointsToAlarm:  jsii.Number(DivergencePeriods),
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	return &Reconciler{Construct: c, Function: fn, Schedule: schedule, Errors: errs, Divergence: divergence}
}

// DivergencePeriods is how many consecutive reconcile periods must find divergence before the
// divergence alarm fires: one pass may race the replicator, two in a row mean it misses changes.
const DivergencePeriods = 2

// divergenceMetric is the reconciler's Divergence (no dimension, home Region), summed over one
// reconcile period.
func divergenceMetric(n Names, home string, rate time.Duration) awscloudwatch.Metric {
	return metricSource{names: n, of: home}.metric(MetricNamespace, "Divergence", "Sum", nil).
		With(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(rate.Minutes()))})
}

// grantMemberRepairs lets a repairing function (reconciler, batch handler) list and read every
// member bucket and write repairs to every member bucket, and use the member keys through S3.
func grantMemberRepairs(role awsiam.Role, cfg Config) {
	n := cfg.Names()
	var buckets, objects []string
	var reasons []string
	for _, r := range cfg.Regions {
		buckets = append(buckets, n.BucketArn(r))
		objects = append(objects, n.BucketArn(r)+"/*")
		reasons = append(reasons, "Resource::"+n.BucketArn(r)+"/*")
	}
	role.AddToPolicy(statement("ListMemberBuckets", memberListActions, buckets))
	role.AddToPolicy(statement("ReadMemberObjects", memberReadActions, objects))
	// s3:DeleteObjectVersion always: repairs run the replication engine, whose
	// write-then-verify path can delete its own replica version (infra/replication.go).
	// Tag repairs (MRAP_RECONCILE_TAGS) write a copy's tags by version id.
	role.AddToPolicy(statement("RepairMemberObjects", memberWriteActions, objects))
	suppress(role, "AwsSolutions-IAM5", "Repairs read and write objects of any key in the member buckets; the wildcard is limited to those buckets.", reasons...)
	if cfg.KMS {
		grantMemberKeys(role, cfg, []string{"kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"})
	}
}
