package engine

import (
	"strconv"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// BatchRepairProps configure the S3 Batch Operations repair path of one Region.
type BatchRepairProps struct {
	Config Config
	Region string
	Code   awslambda.Code
}

// BatchRepair is what an operator needs to reconcile billions of keys with S3 Batch
// Operations in one Region: the batch handler (invoked per key by a LambdaInvoke job) and the
// role such jobs run with. Jobs are created on demand (s3control CreateJob) with the member
// bucket's inventory manifest; nothing here runs until then.
type BatchRepair struct {
	constructs.Construct
	Function *EngineFunction
	JobRole  awsiam.Role
}

// NewBatchRepair creates the handler, allowed to repair the member buckets only, and the job
// role, allowed to invoke that handler, read inventory manifests and write reports in the
// Region's log bucket.
func NewBatchRepair(scope constructs.Construct, id string, p BatchRepairProps) *BatchRepair {
	c := constructs.NewConstruct(scope, jsii.String(id))
	cfg, n := p.Config, p.Config.Names()

	fn := NewEngineFunction(c, "Handler", EngineFunctionProps{
		Name:        n.Function("batch", p.Region),
		Description: "S3 Batch Operations handler: brings each listed key to the winning write in every member bucket",
		Code:        p.Code,
		Environment: map[string]string{
			"MRAP_MEMBERS":          membersEnv(cfg),
			"MRAP_METRIC_NAMESPACE": MetricNamespace,
			"MRAP_DRY_RUN":          strconv.FormatBool(cfg.ReconcileDryRun),
		},
		Timeout:          15 * time.Minute, // one key may be a multi-gigabyte copy
		MemoryMB:         1024,
		LogRetentionDays: cfg.LogRetentionDays,
	})
	grantMemberRepairs(fn.Role, cfg)

	logs := "arn:aws:s3:::" + n.AccessLogBucket(p.Region)
	job := awsiam.NewRole(c, jsii.String("JobRole"), &awsiam.RoleProps{
		RoleName:    jsii.String(n.Function("batch-jobs", p.Region)),
		Description: jsii.String("Role of S3 Batch Operations repair jobs in " + p.Region),
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("batchoperations.s3.amazonaws.com"), nil),
	})
	job.AddToPolicy(statement("InvokeBatchHandler", []string{"lambda:InvokeFunction"}, []string{*fn.Function.FunctionArn()}))
	job.AddToPolicy(statement("ReadInventoryManifests", []string{"s3:GetObject", "s3:GetObjectVersion"}, []string{logs + "/" + InventoryPrefix + "/*"}))
	job.AddToPolicy(statement("WriteJobReports", []string{"s3:PutObject"}, []string{logs + "/" + BatchReportPrefix + "*"}))
	job.AddToPolicy(statement("LocateLogBucket", []string{"s3:GetBucketLocation"}, []string{logs}))
	cdknag.NagSuppressions_AddResourceSuppressions(job, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("Inventory manifests and job reports have generated keys; the wildcards are limited to the inventory and report prefixes of this Region's log bucket."),
		AppliesTo: &[]interface{}{
			"Resource::" + logs + "/" + InventoryPrefix + "/*",
			"Resource::" + logs + "/" + BatchReportPrefix + "*",
		},
	}}, jsii.Bool(true))
	return &BatchRepair{Construct: c, Function: fn, JobRole: job}
}
