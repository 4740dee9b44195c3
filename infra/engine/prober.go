package engine

import (
	"slices"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// ProberProps configure the canary prober of one observer Region (a member or a witness).
type ProberProps struct {
	Config Config
	Region string // the observer
	Code   awslambda.Code
	// MRAPArn, when set, makes the prober also probe the global path (through the Multi-Region
	// Access Point); it may be a token.
	MRAPArn string
}

// Prober runs the prober function of one observer on a schedule: it writes, reads and deletes
// its canary object (CanaryKey) in every other member bucket and reads the global canary
// through the access point, and publishes CanaryAvailability and CanaryLatency with the
// dimensions Region (target), Observer and Path.
type Prober struct {
	constructs.Construct
	Function *EngineFunction
	Schedule awsevents.Rule
}

// Targets returns the members observer probes: every member but itself.
func Targets(cfg Config, observer string) []string {
	return slices.DeleteFunc(slices.Clone(cfg.Regions), func(r string) bool { return r == observer })
}

// NewProber creates the scheduled prober, allowed to touch its own canary objects only.
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
		Description:      "Probes every other member bucket from " + p.Region + " and publishes what it sees",
		Code:             p.Code,
		Environment:      env,
		Timeout:          30 * time.Second,
		MemoryMB:         256,
		Reserved:         0,
		LogRetentionDays: cfg.LogRetentionDays,
	})

	var canaries, seeds, buckets []string
	for _, t := range Targets(cfg, p.Region) {
		canaries = append(canaries, n.BucketArn(t)+"/"+CanaryKey(p.Region))
		seeds = append(seeds, n.BucketArn(t)+"/"+GlobalCanaryKey)
		buckets = append(buckets, n.BucketArn(t))
	}
	fn.Role.AddToPolicy(statement("RegionalCanaries",
		[]string{"s3:PutObject", "s3:GetObject", "s3:GetObjectVersion", "s3:DeleteObject", "s3:DeleteObjectVersion"}, canaries))
	// The regional probe makes sure every target holds the global canary.
	fn.Role.AddToPolicy(statement("SeedGlobalCanary", []string{"s3:PutObject"}, seeds))
	// HeadObject of a missing canary answers 404 (not 403) only with ListBucket.
	fn.Role.AddToPolicy(statement("FindCanaries", []string{"s3:ListBucket"}, buckets))
	if p.MRAPArn != "" {
		// The global read may be routed to any member bucket.
		global := []string{p.MRAPArn + "/object/" + GlobalCanaryKey}
		for _, r := range cfg.Regions {
			global = append(global, n.BucketArn(r)+"/"+GlobalCanaryKey)
		}
		fn.Role.AddToPolicy(statement("GlobalCanary", []string{"s3:GetObject"}, global))
	}
	if cfg.KMS {
		// Every member key: the regional probes write to the targets, the global read may be
		// answered by any member.
		grantMemberKeys(fn.Role, cfg, []string{"kms:Decrypt", "kms:GenerateDataKey"})
	}

	// No retries: a late probe is worthless, the next one is due soon.
	schedule := newSchedule(c, "Schedule", n.Function("probe", p.Region), "Runs the canary prober of "+p.Region, cfg.ProberRate, fn.Function)

	return &Prober{Construct: c, Function: fn, Schedule: schedule}
}

// ObserverAlarmsProps configure the health alarms of one observer Region.
type ObserverAlarmsProps struct {
	Config Config
	Region string // the observer
}

// ObserverAlarms are the health alarms one observer raises, one per member it probes, named
// {MRAP_ALARM_PREFIX}{target}-from-{observer}-availability: the observer's vote on that
// member in the failover quorum. Missing data (the observer's prober or its Region silent)
// leaves the alarm INSUFFICIENT_DATA, which is no vote.
type ObserverAlarms struct {
	constructs.Construct
	Health map[string]awscloudwatch.Alarm // by target
}

// NewObserverAlarms creates the alarms. They have no actions: their state changes travel as
// events to every decider.
func NewObserverAlarms(scope constructs.Construct, id string, p ObserverAlarmsProps) *ObserverAlarms {
	c := constructs.NewConstruct(scope, jsii.String(id))
	cfg, n := p.Config, p.Config.Names()
	periods := jsii.Number(cfg.Alarms.EvaluationPeriods)
	out := &ObserverAlarms{Construct: c, Health: map[string]awscloudwatch.Alarm{}}
	for _, t := range Targets(cfg, p.Region) {
		m := metricSource{names: n, of: t}
		out.Health[t] = awscloudwatch.NewAlarm(c, jsii.String("Availability-"+t), &awscloudwatch.AlarmProps{
			AlarmName: jsii.String(n.HealthAlarm(t, p.Region, AlarmAvailability)),
			AlarmDescription: jsii.String("Canary availability of " + t + " seen from " + p.Region +
				" is below the threshold: " + p.Region + "'s vote in the failover quorum on " + t + ". Missing data is no vote."),
			Metric:             m.observedAvailability(p.Region, "regional"),
			ComparisonOperator: awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD,
			Threshold:          jsii.Number(cfg.Alarms.AvailabilityBelow),
			EvaluationPeriods:  periods,
			DatapointsToAlarm:  periods,
			TreatMissingData:   awscloudwatch.TreatMissingData_MISSING,
		})
	}
	return out
}
