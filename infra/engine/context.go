package engine

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/mrap-engine/mrap/shared/config"
)

// Context keys PropsFromContext reads, one per Props field (the field's comment names its
// key). The repository's app takes their defaults from cdk.json; every key can be overridden
// with `-c key=value` (lists as comma-separated strings). Validation messages name the key.
const (
	CtxAccount                   = "account"
	CtxRegions                   = "regions"
	CtxHomeRegion                = "homeRegion"
	CtxName                      = "name"
	CtxBucketPrefix              = "bucketPrefix"
	CtxMode                      = "mode"
	CtxPriority                  = "priority"
	CtxMinActive                 = "minActive"
	CtxCooldown                  = "cooldown"
	CtxFailback                  = "failback"
	CtxFailbackWindow            = "failbackWindow"
	CtxInsufficientData          = "insufficientData"
	CtxDryRun                    = "dryRun"
	CtxKMS                       = "kms"
	CtxReplicatePermanentDeletes = "replicatePermanentDeletes"
	CtxReplicateLifecycleDeletes = "replicateLifecycleDeletes"
	CtxStorageClass              = "storageClass"
	CtxReplicatorMemory          = "replicatorMemoryMb"
	CtxReplicatorTimeout         = "replicatorTimeoutSeconds"
	CtxReplicatorBatchSize       = "replicatorBatchSize"
	CtxReplicatorMaxConcurrency  = "replicatorMaxConcurrency"
	CtxReplicatorReserved        = "replicatorReservedConcurrency"
	CtxProberRate                = "proberRateMinutes"
	CtxReevaluateRate            = "reevaluateRateMinutes"
	CtxReconcileRate             = "reconcileRateMinutes"
	CtxReconcileDryRun           = "reconcileDryRun"
	CtxAlarmAvailability         = "alarmAvailabilityBelow"
	CtxAlarmLatency              = "alarmLatencySeconds"
	CtxAlarmErrors               = "alarmReplicatorErrors"
	CtxAlarmPeriods              = "alarmEvaluationPeriods"
	CtxNoncurrentDays            = "noncurrentVersionDays"
	CtxAbortMultipartDays        = "abortMultipartDays"
	CtxLogRetentionDays          = "logRetentionDays"
	CtxPrivateAccess             = "privateAccess"
	CtxBatchRepair               = "batchRepair"
	CtxMarkerRecordDays          = "markerRecordDays"
	CtxUnguardedWrites           = "unguardedWrites"
	CtxControlRegions            = "controlRegions"
	CtxWitnessRegions            = "witnessRegions"
	CtxLeaseTTL                  = "leaseTtl"
	CtxViewBound                 = "viewBound"
	CtxMaxSkew                   = "maxSkew"
)

// ContextLookup returns the raw value of a context key: a string from `-c`, or any JSON value
// from cdk.json; ok is false when the key is absent.
type ContextLookup func(key string) (any, bool)

// ContextOf reads the CDK context of scope (an App: cdk.json and -c values).
func ContextOf(scope constructs.IConstruct) ContextLookup {
	return func(key string) (any, bool) {
		v := scope.Node().TryGetContext(jsii.String(key))
		return v, v != nil
	}
}

// PropsFromContext reads the engine's Props from CDK context keys (the Ctx constants), for an
// app configured with cdk.json and -c key=value as this repository's is. An absent or empty
// key leaves its field unset (the default). It only parses: New validates. A value that does
// not parse (a number, a boolean, a duration) is reported with every other, in one error
// that starts with "invalid configuration". The construct library itself never reads context.
func PropsFromContext(lookup ContextLookup) (Props, error) {
	env := config.New(func(key string) (string, bool) {
		v, ok := lookup(key)
		if !ok || v == nil {
			return "", false
		}
		return contextString(v), true
	})
	// set reports whether key has a value, so that only given keys set their fields.
	set := func(key string) bool { return env.String(key, "") != "" }
	integer := func(key string) *int {
		if !set(key) {
			return nil
		}
		return new(int(env.Int64(key, 0)))
	}
	duration := func(key string) *time.Duration {
		if !set(key) {
			return nil
		}
		return new(env.Duration(key, 0))
	}
	scaled := func(key string, unit time.Duration) *time.Duration {
		if !set(key) {
			return nil
		}
		return new(time.Duration(env.Int64(key, 0)) * unit)
	}
	p := Props{
		Account:        env.String(CtxAccount, ""),
		Regions:        env.List(CtxRegions, nil),
		HomeRegion:     env.String(CtxHomeRegion, ""),
		ControlRegions: env.List(CtxControlRegions, nil),
		WitnessRegions: env.List(CtxWitnessRegions, nil),
		LeaseTTL:       duration(CtxLeaseTTL),
		ViewBound:      duration(CtxViewBound),
		MaxSkew:        duration(CtxMaxSkew),
		Name:           env.String(CtxName, ""),
		BucketPrefix:   env.String(CtxBucketPrefix, ""),

		Mode:             env.String(CtxMode, ""),
		Priority:         env.List(CtxPriority, nil),
		MinActive:        integer(CtxMinActive),
		Cooldown:         duration(CtxCooldown),
		Failback:         env.Bool(CtxFailback, false),
		FailbackWindow:   duration(CtxFailbackWindow),
		InsufficientData: env.String(CtxInsufficientData, ""),
		DryRun:           env.Bool(CtxDryRun, false),

		KMS:                       env.Bool(CtxKMS, false),
		ReplicatePermanentDeletes: env.Bool(CtxReplicatePermanentDeletes, false),
		ReplicateLifecycleDeletes: env.Bool(CtxReplicateLifecycleDeletes, false),
		UnguardedWrites:           env.Bool(CtxUnguardedWrites, false),
		StorageClass:              env.String(CtxStorageClass, ""),

		ReplicatorMemoryMb:            integer(CtxReplicatorMemory),
		ReplicatorTimeout:             scaled(CtxReplicatorTimeout, time.Second),
		ReplicatorBatchSize:           integer(CtxReplicatorBatchSize),
		ReplicatorMaxConcurrency:      integer(CtxReplicatorMaxConcurrency),
		ReplicatorReservedConcurrency: int(env.Int64(CtxReplicatorReserved, 0)),
		ProberRate:                    scaled(CtxProberRate, time.Minute),
		ReevaluateRate:                scaled(CtxReevaluateRate, time.Minute),
		ReconcileRate:                 scaled(CtxReconcileRate, time.Minute),
		ReconcileDryRun:               env.Bool(CtxReconcileDryRun, false),

		AlarmLatency:           scaled(CtxAlarmLatency, time.Second),
		AlarmReplicatorErrors:  integer(CtxAlarmErrors),
		AlarmEvaluationPeriods: integer(CtxAlarmPeriods),

		NoncurrentVersionDays: integer(CtxNoncurrentDays),
		AbortMultipartDays:    integer(CtxAbortMultipartDays),
		LogRetentionDays:      integer(CtxLogRetentionDays),
		PrivateAccess:         env.Bool(CtxPrivateAccess, false),
		BatchRepair:           env.Bool(CtxBatchRepair, false),
		MarkerRecordDays:      integer(CtxMarkerRecordDays),
	}
	if set(CtxAlarmAvailability) {
		p.AlarmAvailabilityBelow = new(floatValue(env, CtxAlarmAvailability, 0))
	}
	if err := env.Err(); err != nil {
		return Props{}, fmt.Errorf("invalid configuration (set with cdk.json context or -c key=value): %w", err)
	}
	return p, nil
}

// floatValue parses a decimal number through env, recording a problem when it is not one.
func floatValue(env *config.Env, name string, def float64) float64 {
	s := env.String(name, "")
	if s == "" {
		return def
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		env.Fail(name, "want a number, got %q", s)
		return def
	}
	return f
}

// contextString renders a context value the way `-c` would have given it: lists as
// comma-separated strings, numbers without exponent, everything else as JSON.
func contextString(v any) string {
	switch x := v.(type) {
	case string:
		var list []any
		if strings.HasPrefix(strings.TrimSpace(x), "[") && json.Unmarshal([]byte(x), &list) == nil {
			return contextString(list)
		}
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int:
		return strconv.Itoa(x)
	case []any:
		parts := make([]string, 0, len(x))
		for _, item := range x {
			parts = append(parts, contextString(item))
		}
		return strings.Join(parts, ",")
	case []string:
		return strings.Join(x, ",")
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
}
