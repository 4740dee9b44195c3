package engine

import (
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/mrap-engine/mrap/shared/deployment"
)

// RegionalStackProps configure the stack of one member Region.
type RegionalStackProps struct {
	Config Config
	Region string
	Code   Code
	// Cidr is the VPC range of the private access path (used with Config.PrivateAccess).
	Cidr  string
	Stack StackOptions // name, tags and permissions boundary of the stack
}

// RegionalStack composes what one member Region runs: its bucket, the replication pipeline,
// the operational alarms, its state copy, the forwarding of its events to the deciders and,
// behind flags, the batch repair path and the private access endpoint.
type RegionalStack struct {
	awscdk.Stack
	Bucket      *MemberBucket
	Replication *Replication
	Batch       *BatchRepair // nil unless batch repair is on
	Alarms      *RegionAlarms
	State       *StateBucket
	Forwarder   *EventForwarder
	Private     *PrivateAccess // nil unless private access is on
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

	stack := newStack(scope, id, cfg, p.Stack, StackRegion, p.Region,
		fmt.Sprintf("MRAP engine %s: member bucket, replication and alarms of %s", n.Name, p.Region))
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
	out(deployment.OutputQueueArn, *s.Replication.Queue.QueueArn(), "Replication queue (redrive destination)")
	out(deployment.OutputDeadLetterQueueArn, *s.Replication.DeadLetterQueue.QueueArn(), "Replication dead-letter queue (mrapctl redrive --dlq-arn)")
	if cfg.BatchRepair {
		s.Batch = NewBatchRepair(stack, "BatchRepair", BatchRepairProps{Config: cfg, Region: p.Region, Code: batch})
		out("BatchHandlerArn", *s.Batch.Function.Function.FunctionArn(), "Function of S3 Batch Operations repair jobs (LambdaInvoke)")
		out("BatchJobRoleArn", *s.Batch.JobRole.RoleArn(), "Role of S3 Batch Operations repair jobs")
		out("InventoryLocation", "s3://"+n.AccessLogBucket(p.Region)+"/"+InventoryPrefix+"/", "Weekly inventory of the member bucket (batch job manifests)")
	}
	s.Alarms = NewRegionAlarms(stack, "Alarms", RegionAlarmsProps{Config: cfg, Region: p.Region})
	s.State = NewStateBucket(stack, "State", StateBucketProps{Names: n, Region: p.Region, Logs: s.Bucket.Logs})
	out("StateBucket", n.StateBucket(p.Region), "State copy of "+p.Region+" (MRAP_STATE_COPIES)")
	s.Forwarder = newRegionForwarder(stack, cfg, p.Region)
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
	Stack            StackOptions // name, tags and permissions boundary of the stack
}

// ControlStack composes what the home Region runs once: the Multi-Region Access Point and its
// policy, the initial routes, the reconciler and the dashboard (and the home Region's state
// bucket and forwarding when the home Region is neither a member nor a witness). The failover
// functions run in the decider stacks.
type ControlStack struct {
	awscdk.Stack
	AccessPoint   *AccessPoint
	InitialRoutes *InitialRoutes
	Reconciler    *Reconciler
	Dashboard     *Dashboard
	State         *StateBucket    // nil when a regional or witness stack holds it
	Forwarder     *EventForwarder // nil when a regional or witness stack forwards
}

// NewControlStack creates the stack in the home Region; it fails when a function binary is
// missing.
func NewControlStack(scope constructs.Construct, id string, p ControlStackProps) (*ControlStack, error) {
	cfg, n := p.Config, p.Config.Names()
	reconciler, err := p.Code.Asset("reconciler")
	if err != nil {
		return nil, err
	}
	home := cfg.HomeRegion

	stack := newStack(scope, id, cfg, p.Stack, StackControl, home,
		fmt.Sprintf("MRAP engine %s: Multi-Region Access Point, initial routes, reconciler and dashboard", n.Name))
	s := &ControlStack{Stack: stack}

	var engineRoles []string
	for _, r := range cfg.Observers() {
		engineRoles = append(engineRoles, n.RoleArn("prober", r))
	}
	var endpoints []string
	if cfg.PrivateAccess {
		endpoints = p.PrivateEndpoints
	}
	s.AccessPoint = NewAccessPoint(stack, "AccessPoint", AccessPointProps{Config: cfg, PrivateEndpoints: endpoints, EngineRoles: engineRoles})
	s.InitialRoutes = NewInitialRoutes(stack, "InitialRoutes", InitialRoutesProps{Config: cfg, MRAPArn: s.AccessPoint.Arn})
	s.Reconciler = NewReconciler(stack, "Reconciler", ReconcilerProps{Config: cfg, Code: reconciler})
	if owner(cfg, home) == roleHome {
		s.State = NewStateBucket(stack, "State", StateBucketProps{Names: n, Region: home})
		s.Reconciler.Function.Function.Node().AddDependency(s.State.Bucket)
		s.Forwarder = newRegionForwarder(stack, cfg, home)
	}
	s.Dashboard = NewDashboard(stack, "Dashboard", DashboardProps{Config: cfg})

	out := func(id, value, description string) {
		awscdk.NewCfnOutput(stack, jsii.String(id), &awscdk.CfnOutputProps{Value: jsii.String(value), Description: jsii.String(description)})
	}
	out(deployment.OutputAccessPointArn, s.AccessPoint.Arn, "Multi-Region Access Point ARN (use it as the bucket name with SDKs)")
	out("AccessPointAlias", s.AccessPoint.Alias, "Multi-Region Access Point alias")
	out("GlobalEndpoint", s.AccessPoint.Alias+".accesspoint.s3-global.amazonaws.com", "Global endpoint host name (SigV4A)")
	out("DashboardName", n.Name, "CloudWatch dashboard")
	out("StateBucket", n.StateBucket(home), "Reconcile checkpoint (and the home Region's state copy)")
	out("AlarmPrefix", n.AlarmPrefix(), "MRAP_ALARM_PREFIX: health alarms are {prefix}{target}-from-{observer}-availability")
	out("Deciders", strings.Join(cfg.Deciders, ","), "Regions that run the failover function (controlRegions), primary order")
	for _, m := range cfg.Members() {
		out("Bucket"+exportSuffix(m.Region), m.Bucket, "Member bucket in "+m.Region)
	}
	return s, nil
}

// ProbeStackProps configure the observer stack of one member or witness Region.
type ProbeStackProps struct {
	Config  Config
	Region  string
	Code    Code
	MRAPArn string       // from the control stack (a cross-Region reference)
	Stack   StackOptions // name, tags and permissions boundary of the stack
}

// ProbeStack holds what one observer Region runs to judge the members from outside: its
// prober and its health alarms on every other member. In a witness Region (no member bucket)
// it is the Witness stack and also holds the Region's state copy and event forwarding. It is a
// stack of its own because the prober reads through the access point, which the control stack
// creates after the regional stacks: it deploys after it, and receives the access point ARN as
// a cross-Region reference.
type ProbeStack struct {
	awscdk.Stack
	Prober    *Prober
	Alarms    *ObserverAlarms
	State     *StateBucket    // witness only
	Forwarder *EventForwarder // witness only
}

// NewProbeStack creates the stack in its Region; it fails when the prober binary is missing.
func NewProbeStack(scope constructs.Construct, id string, p ProbeStackProps) (*ProbeStack, error) {
	cfg, n := p.Config, p.Config.Names()
	code, err := p.Code.Asset("prober")
	if err != nil {
		return nil, err
	}
	witness := cfg.IsWitness(p.Region)
	kind, what := StackProbe, "canary prober and health alarms of observer "+p.Region
	if witness {
		kind, what = StackWitness, "witness "+p.Region+": canary prober, health alarms and state copy"
	}
	stack := newStack(scope, id, cfg, p.Stack, kind, p.Region, fmt.Sprintf("MRAP engine %s: %s", n.Name, what))
	s := &ProbeStack{Stack: stack}
	s.Prober = NewProber(stack, "Prober", ProberProps{Config: cfg, Region: p.Region, Code: code, MRAPArn: p.MRAPArn})
	s.Alarms = NewObserverAlarms(stack, "HealthAlarms", ObserverAlarmsProps{Config: cfg, Region: p.Region})
	if witness {
		s.State = NewStateBucket(stack, "State", StateBucketProps{Names: n, Region: p.Region})
		s.Forwarder = newRegionForwarder(stack, cfg, p.Region)
		awscdk.NewCfnOutput(stack, jsii.String("StateBucket"), &awscdk.CfnOutputProps{
			Value: jsii.String(n.StateBucket(p.Region)), Description: jsii.String("State copy of witness " + p.Region + " (MRAP_STATE_COPIES)"),
		})
	}
	return s, nil
}

// DeciderStackProps configure the failover stack of one decider Region.
type DeciderStackProps struct {
	Config  Config
	Region  string
	Code    Code
	MRAPArn string       // from the control stack (a cross-Region reference)
	Stack   StackOptions // name, tags and permissions boundary of the stack
}

// DeciderStack holds what one decider Region (context controlRegions) runs: the failover
// function with its rules and schedule, its audit topic, and, in a Region that is neither a
// member, a witness nor the home Region, its state copy and event forwarding.
type DeciderStack struct {
	awscdk.Stack
	Audit     *Audit
	Failover  *Failover
	State     *StateBucket    // nil when another stack of the Region holds it
	Forwarder *EventForwarder // nil when another stack of the Region forwards
}

// NewDeciderStack creates the stack in its Region; it fails when the failover binary is
// missing.
func NewDeciderStack(scope constructs.Construct, id string, p DeciderStackProps) (*DeciderStack, error) {
	cfg, n := p.Config, p.Config.Names()
	code, err := p.Code.Asset("failover")
	if err != nil {
		return nil, err
	}
	stack := newStack(scope, id, cfg, p.Stack, StackDecider, p.Region,
		fmt.Sprintf("MRAP engine %s: failover decider %s (function, rules, schedule, audit topic)", n.Name, p.Region))
	s := &DeciderStack{Stack: stack}
	s.Audit = NewAudit(stack, "Audit", AuditProps{Names: n})
	s.Failover = NewFailover(stack, "Failover", FailoverProps{Config: cfg, Region: p.Region, Code: code, MRAPArn: p.MRAPArn, AuditTopic: s.Audit.Topic, AuditKey: s.Audit.Key})
	if owner(cfg, p.Region) == roleDecider {
		s.State = NewStateBucket(stack, "State", StateBucketProps{Names: n, Region: p.Region})
		s.Failover.Function.Function.Node().AddDependency(s.State.Bucket)
		s.Forwarder = newRegionForwarder(stack, cfg, p.Region)
	}
	out := func(id, value, description string) {
		awscdk.NewCfnOutput(stack, jsii.String(id), &awscdk.CfnOutputProps{Value: jsii.String(value), Description: jsii.String(description)})
	}
	out(deployment.OutputAuditTopicArn, *s.Audit.Topic.TopicArn(), "SNS topic of "+p.Region+"'s routing decisions and of every engine alarm")
	out("FailoverFunction", n.Function("failover", p.Region), "Failover function of decider "+p.Region)
	return s, nil
}

// RelayStack holds only the forwarding of AWS Health events received in a backup Region
// (us-west-2, us-east-1) where the engine runs nothing else.
type RelayStack struct {
	awscdk.Stack
	Forwarder *EventForwarder
}

// RelayStackProps configure the relay stack of one backup Region of AWS Health.
type RelayStackProps struct {
	Config Config
	Region string
	Stack  StackOptions // name, tags and permissions boundary of the stack
}

// NewRelayStack creates the stack in its Region.
func NewRelayStack(scope constructs.Construct, id string, p RelayStackProps) *RelayStack {
	cfg, region, n := p.Config, p.Region, p.Config.Names()
	stack := newStack(scope, id, cfg, p.Stack, StackRelay, region,
		fmt.Sprintf("MRAP engine %s: AWS Health events for S3 delivered in the backup Region %s to the deciders", n.Name, region))
	return &RelayStack{Stack: stack, Forwarder: newRegionForwarder(stack, cfg, region)}
}

// StackOptions are what a stack of the engine takes from Props besides the configuration.
type StackOptions struct {
	Name                string            // CloudFormation stack name ("" keeps "{name}-{kind}-{region}")
	Tags                map[string]string // added after (and over) DefaultTags; the identity tags are always the engine's
	PermissionsBoundary awsiam.IManagedPolicy
}

// newStack creates a stack of the engine of kind in region: named, described, tagged and
// bounded as o says, with the feature flags the constructs rely on set on it before any
// construct is added.
func newStack(scope constructs.Construct, id string, cfg Config, o StackOptions, kind, region, description string) awscdk.Stack {
	props := &awscdk.StackProps{
		StackName:   jsii.String(or(o.Name, cfg.Names().Function(kind, region))),
		Description: jsii.String(description),
		Env:         &awscdk.Environment{Account: jsii.String(cfg.Account), Region: jsii.String(region)},
	}
	if kind != StackRelay {
		props.CrossRegionReferences = jsii.Bool(true)
	}
	stack := awscdk.NewStack(scope, jsii.String(id), props)
	for flag, on := range featureFlags() {
		stack.Node().SetContext(jsii.String(flag), on)
	}
	if kind == StackRegion && cfg.PrivateAccess {
		// The private-access VPC takes its zones from Fn::GetAZs at deploy time, but the Vpc
		// construct still reads the stack's zones to validate them, which would be a lookup
		// needing credentials. Answer that lookup here; the answer is never deployed.
		key := "availability-zones:account=" + cfg.Account + ":region=" + region
		stack.Node().SetContext(jsii.String(key), []string{"resolved-at-deploy-time-1", "resolved-at-deploy-time-2"})
	}
	tags := awscdk.Tags_Of(stack)
	identity, all := identityTags(cfg), DefaultTags()
	for k, v := range o.Tags {
		all[k] = v
	}
	for k, v := range identity {
		all[k] = v
	}
	for _, k := range sortedKeys(all) {
		tags.Add(jsii.String(k), jsii.String(all[k]), nil)
	}
	if o.PermissionsBoundary != nil {
		awsiam.PermissionsBoundary_Of(stack).Apply(o.PermissionsBoundary)
		stack.Node().AddValidation(&lateRoleBoundary{stack: stack, arn: o.PermissionsBoundary.ManagedPolicyArn()})
	}
	return stack
}

// lateRoleBoundary bounds the roles CDK adds to a stack during synthesis, after the aspects
// ran: those of the providers of cross-Region references (Custom::CrossRegionExportWriter and
// ...Reader), which neither awsiam.PermissionsBoundary_Of nor StackProps.PermissionsBoundary
// reach. Validation is the one step after they exist and before the template is written; it
// reports nothing.
type lateRoleBoundary struct {
	stack awscdk.Stack
	arn   *string
}

// Validate sets the boundary on every role of the stack (again, for those the aspect bounded).
func (b *lateRoleBoundary) Validate() *[]*string {
	for _, c := range *b.stack.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		if r, ok := c.(awscdk.CfnResource); ok && *awscdk.CfnResource_IsCfnResource(c) && *r.CfnResourceType() == "AWS::IAM::Role" {
			r.AddPropertyOverride(jsii.String("PermissionsBoundary"), b.arn)
		}
	}
	return &[]*string{}
}

// Region roles, in the order that picks the stack holding a Region's state copy and event
// forwarding (exactly one stack per Region does).
const (
	roleMember = iota
	roleWitness
	roleHome
	roleDecider
	roleRelay
	roleNone
)

// owner returns the role whose stack holds region's state copy and forwarding.
func owner(cfg Config, region string) int {
	switch {
	case cfg.IsMember(region):
		return roleMember
	case cfg.IsWitness(region):
		return roleWitness
	case region == cfg.HomeRegion:
		return roleHome
	case cfg.IsDecider(region):
		return roleDecider
	case slices.Contains(cfg.HealthRegions(), region):
		return roleRelay
	default:
		return roleNone
	}
}

// newRegionForwarder forwards what region has for the deciders: the engine's alarm state
// changes (every Region with an engine stack raises some) and, in member and backup Regions,
// AWS Health events for S3 about the members.
func newRegionForwarder(scope constructs.Construct, cfg Config, region string) *EventForwarder {
	p := EventForwarderProps{Names: cfg.Names(), Region: region, Deciders: cfg.Deciders, Alarms: owner(cfg, region) != roleRelay}
	if slices.Contains(cfg.HealthRegions(), region) {
		p.HealthAbout = cfg.Regions
	}
	return NewEventForwarder(scope, "Forwarding", p)
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
