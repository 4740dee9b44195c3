package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// RegionalStackProps configure the stack of one member Region.
type RegionalStackProps struct {
	Config Config
	Region string
	Code   Code
	// Cidr is the VPC range of the private access path (used with Config.PrivateAccess).
	Cidr string
}

// RegionalStack composes what one member Region runs: its bucket, the replication pipeline,
// the alarms, the forwarding of its events to the home Region and, behind flags, the batch
// repair path and the private access endpoint.
type RegionalStack struct {
	awscdk.Stack
	Bucket      *MemberBucket
	Replication *Replication
	Batch       *BatchRepair // nil unless batch repair is on
	Alarms      *RegionAlarms
	Forwarder   *AlarmForwarder // nil in the home Region
	Private     *PrivateAccess  // nil unless private access is on
}

// NewRegionalStack creates the stack in its Region; it fails when a function binary is missing.
func NewRegionalStack(scope constructs.Construct, id string, p RegionalStackProps) (*RegionalStack, error) {
	cfg, n := p.Config, p.Config.Names()
	replicator, err := p.Code.Asset("replicator")
	if err != nil {
		return nil, err
	}
	var batch awslambda.Code
	if cfg.BatchRepair {
		if batch, err = p.Code.Asset("batch"); err != nil {
			return nil, err
		}
	}

	stack := awscdk.NewStack(scope, jsii.String(id), &awscdk.StackProps{
		StackName:             jsii.String(n.Function("region", p.Region)),
		Description:           jsii.String(fmt.Sprintf("MRAP engine %s: member bucket, replication and alarms of %s", n.Name, p.Region)),
		Env:                   &awscdk.Environment{Account: jsii.String(cfg.Account), Region: jsii.String(p.Region)},
		CrossRegionReferences: jsii.Bool(true),
	})
	s := &RegionalStack{Stack: stack}
	s.Bucket = NewMemberBucket(stack, "Member", MemberBucketProps{
		Names:                 n,
		Region:                p.Region,
		KMS:                   cfg.KMS,
		NoncurrentVersionDays: cfg.NoncurrentVersionDays,
		AbortMultipartDays:    cfg.AbortMultipartDays,
		MarkerRecordDays:      cfg.MarkerRecordDays,
		Inventory:             cfg.BatchRepair,
	})
	s.Replication = NewReplication(stack, "Replication", ReplicationProps{Config: cfg, Region: p.Region, Code: replicator})
	out := func(id, value, description string) {
		awscdk.NewCfnOutput(stack, jsii.String(id), &awscdk.CfnOutputProps{Value: jsii.String(value), Description: jsii.String(description)})
	}
	out("Bucket", n.Bucket(p.Region), "Member bucket")
	out("ReplicationQueueArn", *s.Replication.Queue.QueueArn(), "Replication queue (redrive destination)")
	out("DeadLetterQueueArn", *s.Replication.DeadLetterQueue.QueueArn(), "Replication dead-letter queue (mrapctl redrive --dlq-arn)")
	if cfg.BatchRepair {
		s.Batch = NewBatchRepair(stack, "BatchRepair", BatchRepairProps{Config: cfg, Region: p.Region, Code: batch})
		out("BatchHandlerArn", *s.Batch.Function.Function.FunctionArn(), "Function of S3 Batch Operations repair jobs (LambdaInvoke)")
		out("BatchJobRoleArn", *s.Batch.JobRole.RoleArn(), "Role of S3 Batch Operations repair jobs")
		out("InventoryLocation", "s3://"+n.AccessLogBucket(p.Region)+"/"+InventoryPrefix+"/", "Weekly inventory of the member bucket (batch job manifests)")
	}
	s.Alarms = NewRegionAlarms(stack, "Alarms", RegionAlarmsProps{Config: cfg, Region: p.Region})
	if p.Region != cfg.HomeRegion {
		s.Forwarder = NewAlarmForwarder(stack, "Forwarding", AlarmForwarderProps{Names: n, Region: p.Region, HomeRegion: cfg.HomeRegion})
	}
	if cfg.PrivateAccess {
		s.Private = NewPrivateAccess(stack, "PrivateAccess", PrivateAccessProps{Names: n, Region: p.Region, Cidr: p.Cidr})
	}
	return s, nil
}

// ControlStackProps configure the control stack of the home Region.
type ControlStackProps struct {
	Config Config
	Code   Code
	// PrivateEndpoints are the endpoint ids of the regional stacks (cross-Region references),
	// used only with Config.PrivateAccess.
	PrivateEndpoints []string
}

// ControlStack composes what the home Region runs: the Multi-Region Access Point and its
// policy, the initial routes, the audit topic, the failover function and the reconciler with
// their state bucket, and the dashboard.
type ControlStack struct {
	awscdk.Stack
	AccessPoint   *AccessPoint
	InitialRoutes *InitialRoutes
	Audit         *Audit
	State         *StateBucket
	Failover      *Failover
	Reconciler    *Reconciler
	Dashboard     *Dashboard
}

// NewControlStack creates the stack in the home Region; it fails when a function binary is
// missing.
func NewControlStack(scope constructs.Construct, id string, p ControlStackProps) (*ControlStack, error) {
	cfg, n := p.Config, p.Config.Names()
	failover, err := p.Code.Asset("failover")
	if err != nil {
		return nil, err
	}
	reconciler, err := p.Code.Asset("reconciler")
	if err != nil {
		return nil, err
	}

	stack := awscdk.NewStack(scope, jsii.String(id), &awscdk.StackProps{
		StackName:             jsii.String(n.Function("control", cfg.HomeRegion)),
		Description:           jsii.String(fmt.Sprintf("MRAP engine %s: Multi-Region Access Point, failover, audit and dashboard", n.Name)),
		Env:                   &awscdk.Environment{Account: jsii.String(cfg.Account), Region: jsii.String(cfg.HomeRegion)},
		CrossRegionReferences: jsii.Bool(true),
	})
	s := &ControlStack{Stack: stack}

	var engineRoles []string
	for _, r := range cfg.Regions {
		engineRoles = append(engineRoles, n.RoleArn("prober", r))
	}
	var endpoints []string
	if cfg.PrivateAccess {
		endpoints = p.PrivateEndpoints
	}
	s.AccessPoint = NewAccessPoint(stack, "AccessPoint", AccessPointProps{Config: cfg, PrivateEndpoints: endpoints, EngineRoles: engineRoles})
	s.InitialRoutes = NewInitialRoutes(stack, "InitialRoutes", InitialRoutesProps{Config: cfg, MRAPArn: s.AccessPoint.Arn})
	s.Audit = NewAudit(stack, "Audit", AuditProps{Names: n})
	s.State = NewStateBucket(stack, "State", StateBucketProps{Names: n, HomeRegion: cfg.HomeRegion})
	s.Failover = NewFailover(stack, "Failover", FailoverProps{Config: cfg, Code: failover, MRAPArn: s.AccessPoint.Arn, AuditTopic: s.Audit.Topic, AuditKey: s.Audit.Key})
	s.Failover.Function.Function.Node().AddDependency(s.State.Bucket)
	s.Reconciler = NewReconciler(stack, "Reconciler", ReconcilerProps{Config: cfg, Code: reconciler})
	s.Reconciler.Function.Function.Node().AddDependency(s.State.Bucket)
	s.Dashboard = NewDashboard(stack, "Dashboard", DashboardProps{Config: cfg})

	out := func(id, value, description string) {
		awscdk.NewCfnOutput(stack, jsii.String(id), &awscdk.CfnOutputProps{Value: jsii.String(value), Description: jsii.String(description)})
	}
	out("AccessPointArn", s.AccessPoint.Arn, "Multi-Region Access Point ARN (use it as the bucket name with SDKs)")
	out("AccessPointAlias", s.AccessPoint.Alias, "Multi-Region Access Point alias")
	out("GlobalEndpoint", s.AccessPoint.Alias+".accesspoint.s3-global.amazonaws.com", "Global endpoint host name (SigV4A)")
	out("AuditTopicArn", *s.Audit.Topic.TopicArn(), "SNS topic of routing changes and alarm notifications")
	out("DashboardName", n.Name, "CloudWatch dashboard")
	out("StateBucket", n.StateBucket(cfg.HomeRegion), "Failover state and reconcile checkpoint (MRAP_STATE_BUCKET)")
	out("AlarmPrefix", n.AlarmPrefix(), "MRAP_ALARM_PREFIX: health alarms are {prefix}{region}-{kind}")
	for _, m := range cfg.Members() {
		out("Bucket"+exportSuffix(m.Region), m.Bucket, "Member bucket in "+m.Region)
	}
	return s, nil
}

// ProbeStackProps configure the prober stack of one member Region.
type ProbeStackProps struct {
	Config  Config
	Region  string
	Code    Code
	MRAPArn string // from the control stack (a cross-Region reference)
}

// ProbeStack holds the prober of one member Region. It is a stack of its own because the
// prober reads through the access point, which the control stack creates after the
// regional stacks: it deploys last, and receives the access point ARN as a cross-Region
// reference.
type ProbeStack struct {
	awscdk.Stack
	Prober *Prober
}

// NewProbeStack creates the stack in its Region; it fails when the prober binary is missing.
func NewProbeStack(scope constructs.Construct, id string, p ProbeStackProps) (*ProbeStack, error) {
	cfg, n := p.Config, p.Config.Names()
	code, err := p.Code.Asset("prober")
	if err != nil {
		return nil, err
	}
	stack := awscdk.NewStack(scope, jsii.String(id), &awscdk.StackProps{
		StackName:             jsii.String(n.Function("probe", p.Region)),
		Description:           jsii.String(fmt.Sprintf("MRAP engine %s: canary prober of %s (regional and global path)", n.Name, p.Region)),
		Env:                   &awscdk.Environment{Account: jsii.String(cfg.Account), Region: jsii.String(p.Region)},
		CrossRegionReferences: jsii.Bool(true),
	})
	prober := NewProber(stack, "Prober", ProberProps{Config: cfg, Region: p.Region, Code: code, MRAPArn: p.MRAPArn})
	if cfg.KMS {
		grantMemberKeys(prober.Function.Role, cfg, []string{"kms:Decrypt", "kms:GenerateDataKey"})
	}
	return &ProbeStack{Stack: stack, Prober: prober}, nil
}

// exportSuffix turns a Region name into a logical-id-safe suffix (us-east-1 -> UsEast1).
func exportSuffix(region string) string {
	out := make([]byte, 0, len(region))
	upper := true
	for i := 0; i < len(region); i++ {
		ch := region[i]
		if ch == '-' {
			upper = true
			continue
		}
		if upper && ch >= 'a' && ch <= 'z' {
			ch -= 'a' - 'A'
		}
		upper = false
		out = append(out, ch)
	}
	return string(out)
}
