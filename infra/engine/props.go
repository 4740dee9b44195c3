package engine

import (
	"fmt"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"

	"github.com/mrap-engine/mrap/shared/config"
)

// Props configure the engine. Each deployment setting is one key of the CDK context of this
// repository's app (cdk.json, -c key=value), named in its comment with its default; validation
// messages name that key. An unset field (the zero value; nil for a pointer) takes its
// default, so pointers are used where zero is itself a valid setting or out of range
// (Go 1.26: MinActive: new(2)).
type Props struct {
	Account string   // account: 12-digit AWS account id (default PlaceholderAccount, which synthesizes but does not deploy)
	Regions []string // regions: member Regions, one bucket each, in order (default us-east-1, us-west-2)
	// HomeRegion hosts the control stack and serves the routes API (homeRegion; default the
	// first member that serves it, else us-west-2).
	HomeRegion string
	// ControlRegions run the failover function, in the order that picks the primary
	// (controlRegions; default the first two routes-API Regions, members first).
	ControlRegions []string
	// WitnessRegions observe the members and hold a state copy, without a bucket
	// (witnessRegions; default none).
	WitnessRegions []string
	LeaseTTL       *time.Duration // leaseTtl: the deciders' lease (default 3m)
	ViewBound      *time.Duration // viewBound: the oldest view a decider may submit on (default 30s)
	MaxSkew        *time.Duration // maxSkew: clock skew tolerated between deciders (default 5s)
	Name           string         // name: MRAP name and base of every physical name (default mrap-engine)
	BucketPrefix   string         // bucketPrefix: start of every bucket name (default Name)

	Mode             string         // mode: active-active or active-passive (default active-active)
	Priority         []string       // priority: every member Region, most preferred first (default Regions)
	MinActive        *int           // minActive: Regions kept active whatever their health (default 1)
	Cooldown         *time.Duration // cooldown: least time between two route changes that add traffic (default 5m)
	Failback         bool           // failback: return traffic to a recovered Region (default false)
	FailbackWindow   *time.Duration // failbackWindow: how long a Region must stay healthy before failback (default 15m)
	InsufficientData string         // insufficientData: ignore or unhealthy (default ignore)
	DryRun           bool           // dryRun: decide and audit without submitting routes (default false)

	KMS                       bool   // kms: member buckets encrypted with a KMS key of their own (default false: SSE-S3)
	ReplicatePermanentDeletes bool   // replicatePermanentDeletes (default false)
	ReplicateLifecycleDeletes bool   // replicateLifecycleDeletes (default false)
	UnguardedWrites           bool   // unguardedWrites: the stores take no write conditions; write, then verify (default false)
	StorageClass              string // storageClass: of the replicas (default: the source's)

	ReplicatorMemoryMb            *int           // replicatorMemoryMb (default 512)
	ReplicatorTimeout             *time.Duration // replicatorTimeoutSeconds, whole seconds (default 300s)
	ReplicatorBatchSize           *int           // replicatorBatchSize: SQS batch size (default 10)
	ReplicatorMaxConcurrency      *int           // replicatorMaxConcurrency: SQS event source maximum concurrency (default 20)
	ReplicatorReservedConcurrency int            // replicatorReservedConcurrency (default 0: unreserved)
	ProberRate                    *time.Duration // proberRateMinutes, whole minutes (default 1m)
	ReevaluateRate                *time.Duration // reevaluateRateMinutes: unprompted re-evaluation, whole minutes (default 1m)
	ReconcileRate                 *time.Duration // reconcileRateMinutes, whole minutes (default 60m)
	ReconcileDryRun               bool           // reconcileDryRun: plan and report repairs without writing (default false)

	AlarmAvailabilityBelow *float64       // alarmAvailabilityBelow: canary availability under which a Region is unhealthy (default 0.9)
	AlarmLatency           *time.Duration // alarmLatencySeconds: replication latency alarm, whole seconds (default 300s)
	AlarmReplicatorErrors  *int           // alarmReplicatorErrors: replicator errors per period (default 5)
	AlarmEvaluationPeriods *int           // alarmEvaluationPeriods: one-minute periods before an alarm fires (default 3)

	NoncurrentVersionDays *int // noncurrentVersionDays (default 30)
	AbortMultipartDays    *int // abortMultipartDays (default 7)
	LogRetentionDays      *int // logRetentionDays: a CloudWatch Logs retention value (default 30)
	PrivateAccess         bool // privateAccess: a VPC endpoint per member Region (default false)
	BatchRepair           bool // batchRepair: the S3 Batch Operations repair path (default false)
	MarkerRecordDays      *int // markerRecordDays: expiry of the delete-marker records, 0 keeps them (default 30)

	// AssetDir holds the function binaries, AssetDir/<fn>/bootstrap (default "dist", relative
	// to the directory synthesis runs in). `make build` in this repository writes them; from
	// another module, FunctionBuildCommand prints the command.
	AssetDir string
	// StackName names the CloudFormation stack of kind (region, control, probe, witness,
	// decider, relay) in region. Nil keeps "{Name}-{kind}-{region}"; mrapctl finds stacks of
	// other names by their MrapName tag.
	StackName func(kind, region string) string
	// Tags are added to every resource of the engine, after (and over) the default tags
	// Project=mrap-engine and ManagedBy=cdk. MrapName={Name} is always set and cannot be given
	// here: mrapctl --name finds the deployment by it.
	Tags map[string]string
	// PermissionsBoundary, when set, bounds every IAM role of the engine's stacks, CDK's own
	// custom-resource roles included (awsiam.PermissionsBoundary_Of on each stack). It is an
	// existing policy: awsiam.ManagedPolicy_FromManagedPolicyArn or _FromManagedPolicyName,
	// imported in a stack of one's own.
	PermissionsBoundary awsiam.IManagedPolicy
}

// Resolve returns the deployment Props describe, every default applied and validated.
// Every problem is reported at once, in one error that starts with "invalid configuration"
// and names each context key.
func (p Props) Resolve() (Config, error) {
	c := Config{
		Account:      or(p.Account, PlaceholderAccount),
		Regions:      orList(p.Regions, []string{"us-east-1", "us-west-2"}),
		Name:         or(p.Name, "mrap-engine"),
		BucketPrefix: p.BucketPrefix,
		Witnesses:    p.WitnessRegions,

		Mode:             or(p.Mode, ModeActiveActive),
		MinActive:        orValue(p.MinActive, 1),
		Cooldown:         orValue(p.Cooldown, 5*time.Minute),
		Failback:         p.Failback,
		FailbackWindow:   orValue(p.FailbackWindow, 15*time.Minute),
		InsufficientData: or(p.InsufficientData, "ignore"),
		DryRun:           p.DryRun,

		KMS:                       p.KMS,
		ReplicatePermanentDeletes: p.ReplicatePermanentDeletes,
		ReplicateLifecycleDeletes: p.ReplicateLifecycleDeletes,
		StorageClass:              p.StorageClass,
		UnguardedWrites:           p.UnguardedWrites,

		ReplicatorMemoryMB:       orValue(p.ReplicatorMemoryMb, 512),
		ReplicatorTimeout:        orValue(p.ReplicatorTimeout, 300*time.Second),
		ReplicatorBatchSize:      orValue(p.ReplicatorBatchSize, 10),
		ReplicatorMaxConcurrency: orValue(p.ReplicatorMaxConcurrency, 20),
		ReplicatorReserved:       p.ReplicatorReservedConcurrency,
		ProberRate:               orValue(p.ProberRate, time.Minute),
		ReevaluateRate:           orValue(p.ReevaluateRate, time.Minute),
		ReconcileRate:            orValue(p.ReconcileRate, 60*time.Minute),
		ReconcileDryRun:          p.ReconcileDryRun,

		Alarms: AlarmThresholds{
			AvailabilityBelow: orValue(p.AlarmAvailabilityBelow, 0.9),
			Latency:           orValue(p.AlarmLatency, 300*time.Second),
			ReplicatorErrors:  orValue(p.AlarmReplicatorErrors, 5),
			EvaluationPeriods: orValue(p.AlarmEvaluationPeriods, 3),
		},

		NoncurrentVersionDays: orValue(p.NoncurrentVersionDays, 30),
		AbortMultipartDays:    orValue(p.AbortMultipartDays, 7),
		LogRetentionDays:      orValue(p.LogRetentionDays, 30),
		PrivateAccess:         p.PrivateAccess,
		BatchRepair:           p.BatchRepair,
		MarkerRecordDays:      orValue(p.MarkerRecordDays, 30),

		LeaseTTL:  orValue(p.LeaseTTL, 3*time.Minute),
		ViewBound: orValue(p.ViewBound, 30*time.Second),
		MaxSkew:   orValue(p.MaxSkew, 5*time.Second),
	}
	c.BucketPrefix = or(c.BucketPrefix, c.Name)
	c.HomeRegion = or(p.HomeRegion, defaultHome(c.Regions))
	c.Priority = orList(p.Priority, c.Regions)
	c.Deciders = orList(p.ControlRegions, defaultDeciders(c.Regions))

	env := config.New(func(string) (string, bool) { return "", false })
	validateUnits(env, &c)
	validate(env, &c)
	if err := env.Err(); err != nil {
		return Config{}, fmt.Errorf("invalid configuration: %w", err)
	}
	return c, nil
}

// validateUnits checks what typed Props can hold and context cannot: negative values, and
// durations the resources take in whole seconds or minutes.
func validateUnits(env *config.Env, c *Config) {
	for _, d := range []struct {
		key  string
		v    time.Duration
		unit time.Duration
	}{
		{CtxLeaseTTL, c.LeaseTTL, 0}, {CtxViewBound, c.ViewBound, 0}, {CtxMaxSkew, c.MaxSkew, 0},
		{CtxCooldown, c.Cooldown, 0}, {CtxFailbackWindow, c.FailbackWindow, 0},
		{CtxReplicatorTimeout, c.ReplicatorTimeout, time.Second}, {CtxAlarmLatency, c.Alarms.Latency, time.Second},
		{CtxProberRate, c.ProberRate, time.Minute}, {CtxReevaluateRate, c.ReevaluateRate, time.Minute}, {CtxReconcileRate, c.ReconcileRate, time.Minute},
	} {
		switch {
		case d.v < 0:
			env.Fail(d.key, "want 0 or more, got %s", d.v)
		case d.unit != 0 && d.v%d.unit != 0:
			env.Fail(d.key, "want whole %s, got %s", map[time.Duration]string{time.Second: "seconds", time.Minute: "minutes"}[d.unit], d.v)
		}
	}
	for _, n := range []struct {
		key string
		v   int
	}{{CtxMarkerRecordDays, c.MarkerRecordDays}, {CtxAlarmErrors, c.Alarms.ReplicatorErrors}} {
		if n.v < 0 {
			env.Fail(n.key, "want 0 or more, got %d", n.v)
		}
	}
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func orList(v, def []string) []string {
	if len(v) == 0 {
		return def
	}
	return v
}

func orValue[T any](v *T, def T) T {
	if v == nil {
		return def
	}
	return *v
}
