package engine

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/mrap-engine/mrap/shared/config"
)

// RoutesAPIRegions returns the only Regions that serve the MRAP routes API
// (Get/SubmitMultiRegionAccessPointRoutes), in the order the failover function tries them.
func RoutesAPIRegions() []string {
	return []string{"us-east-1", "us-west-2", "ap-southeast-2", "ap-northeast-1", "eu-west-1"}
}

// Routing modes of the Multi-Region Access Point.
const (
	ModeActiveActive  = "active-active"
	ModeActivePassive = "active-passive"
)

// BackupHealthRegions are the Regions AWS Health also delivers public events to: us-west-2 is
// the backup of every Region, us-east-1 the backup of us-west-2 (docs/failover.md).
func BackupHealthRegions() []string { return []string{"us-west-2", "us-east-1"} }

// maxDeciders is the most decider Regions: every forwarding rule targets each decider's bus,
// and an EventBridge rule has at most five targets.
const maxDeciders = 5

// PlaceholderAccount is the documented stand-in account of cdk.json: it synthesizes, and
// deploying it fails, so real deployments pass -c account=....
const PlaceholderAccount = "111111111111"

// Config is the whole deployment as the constructs build it: Props with every default
// applied, validated before any construct is created (Props.Resolve).
type Config struct {
	Account      string
	Regions      []string // member Regions, in the order given
	HomeRegion   string   // hosts the control stack; serves the routes API
	Name         string   // MRAP name and base of every other physical name
	BucketPrefix string
	// Deciders are the Regions that run the failover function (context controlRegions), in
	// the order that picks the primary.
	Deciders []string
	// Witnesses are observer Regions without a member bucket: a prober and a state copy.
	Witnesses []string
	// LeaseTTL, ViewBound and MaxSkew are the deciders' lease, the oldest view a decider may
	// submit on, and the clock skew tolerated between deciders (docs/failover.md).
	LeaseTTL  time.Duration
	ViewBound time.Duration
	MaxSkew   time.Duration

	Mode             string
	Priority         []string // every member Region, most preferred first
	MinActive        int
	Cooldown         time.Duration
	Failback         bool
	FailbackWindow   time.Duration
	InsufficientData string
	DryRun           bool

	KMS                       bool
	ReplicatePermanentDeletes bool
	ReplicateLifecycleDeletes bool
	StorageClass              string
	// UnguardedWrites: the member stores do not support write conditions; replicas are
	// written without them and verified (MRAP_UNGUARDED_WRITES).
	UnguardedWrites bool

	ReplicatorMemoryMB       int
	ReplicatorTimeout        time.Duration
	ReplicatorBatchSize      int
	ReplicatorMaxConcurrency int // SQS event source maximum concurrency (2..1000)
	ReplicatorReserved       int // reserved concurrency; 0 leaves it unreserved
	ProberRate               time.Duration
	// ReevaluateRate is how often the failover function re-reads every alarm unprompted
	// (a Scheduled Event), so failback happens once its window has passed.
	ReevaluateRate time.Duration
	// ReconcileRate is how often the reconciler continues its pass; ReconcileDryRun makes it
	// plan and report repairs without writing.
	ReconcileRate   time.Duration
	ReconcileDryRun bool

	Alarms AlarmThresholds

	NoncurrentVersionDays int
	AbortMultipartDays    int
	LogRetentionDays      int
	PrivateAccess         bool
	// BatchRepair adds the S3 Batch Operations repair path to every Region: the batch
	// handler, the job role and the member bucket's weekly inventory (the jobs' manifest).
	BatchRepair bool
	// MarkerRecordDays is how long the records of the delete markers the engine wrote
	// (.mrap-state/markers/ in every member bucket) are kept; 0 keeps them.
	MarkerRecordDays int
}

// AlarmThresholds are the limits of the per-Region alarms.
type AlarmThresholds struct {
	AvailabilityBelow float64       // canary availability (0..1) under which the Region is unhealthy
	Latency           time.Duration // replication latency above which the latency alarm fires
	ReplicatorErrors  int           // replicator invocation errors per period above which the alarm fires
	EvaluationPeriods int           // consecutive one-minute periods before an alarm fires
}

// Functions returns the engine's functions this deployment needs (the batch handler only with
// BatchRepair).
func (c Config) Functions() []string {
	var out []string
	for _, fn := range Functions() {
		if fn == "batch" && !c.BatchRepair {
			continue
		}
		out = append(out, fn)
	}
	return out
}

// Names returns the deterministic physical names of this deployment.
func (c Config) Names() Names {
	return Names{Name: c.Name, BucketPrefix: c.BucketPrefix, Account: c.Account}
}

// Members returns every member Region with its bucket, in Region order.
func (c Config) Members() []config.Member {
	n := c.Names()
	out := make([]config.Member, 0, len(c.Regions))
	for _, r := range c.Regions {
		out = append(out, config.Member{Region: r, Bucket: n.Bucket(r)})
	}
	return out
}

// RoutesAPIOrder returns the routes-API Regions in the order a decider in region tries them:
// its own Region first when it serves the API, then the others (MRAP_CONTROL_REGIONS).
func RoutesAPIOrder(region string) []string {
	out := []string{}
	if slices.Contains(RoutesAPIRegions(), region) {
		out = append(out, region)
	}
	for _, r := range RoutesAPIRegions() {
		if r != region {
			out = append(out, r)
		}
	}
	return out
}

// Observers returns the Regions that probe the members: every member, then every witness.
func (c Config) Observers() []string {
	return union(c.Regions, c.Witnesses)
}

// StateRegions returns the Regions holding a copy of the failover state (S = members ∪
// witnesses ∪ deciders), members first.
func (c Config) StateRegions() []string {
	return union(c.Regions, c.Witnesses, c.Deciders)
}

// HealthRegions returns the Regions whose AWS Health events reach the deciders: every member
// and the backup Regions AWS also delivers public events to.
func (c Config) HealthRegions() []string {
	return union(c.Regions, BackupHealthRegions())
}

// IsDecider reports whether region runs a failover function.
func (c Config) IsDecider(region string) bool { return slices.Contains(c.Deciders, region) }

// IsMember reports whether region holds a member bucket.
func (c Config) IsMember(region string) bool { return slices.Contains(c.Regions, region) }

// IsWitness reports whether region is a witness.
func (c Config) IsWitness(region string) bool { return slices.Contains(c.Witnesses, region) }

// Warnings returns what synthesizes but an operator should know: two members without a witness
// have no third opinion on a partition between them, which can only be held, never resolved.
func (c Config) Warnings() []string {
	if len(c.Regions) == 2 && len(c.Witnesses) == 0 {
		return []string{fmt.Sprintf("two member Regions (%s) and no witness Region: a partition between them can only be held, never resolved; add one with -c %s=REGION (docs/failover.md)",
			strings.Join(c.Regions, ", "), CtxWitnessRegions)}
	}
	return nil
}

// union returns the distinct Regions of lists, in first-seen order.
func union(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		for _, r := range l {
			if !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	return out
}

var (
	accountPattern = regexp.MustCompile(`^\d{12}$`)
	// namePattern keeps every derived name (MRAP, functions, roles, queues) within AWS limits.
	namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,18}[a-z0-9]$`)
	// bucketPrefixPattern keeps "{prefix}-logs-{account}-{region}" within 63 characters.
	bucketPrefixPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,26}[a-z0-9]$`)
)

// defaultHome is the first member Region that serves the routes API, or us-west-2.
func defaultHome(regions []string) string {
	for _, r := range regions {
		if slices.Contains(RoutesAPIRegions(), r) {
			return r
		}
	}
	return "us-west-2"
}

// defaultDeciders returns two routes-API Regions: the members that serve the API first, in
// member order, then the others in RoutesAPIRegions order.
func defaultDeciders(members []string) []string {
	var out []string
	for _, r := range append(slices.Clone(members), RoutesAPIRegions()...) {
		if len(out) < 2 && slices.Contains(RoutesAPIRegions(), r) && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// maxReconcileRate keeps the divergence alarm's evaluation range (DivergencePeriods reconcile
// periods) within CloudWatch's 7 days.
const maxReconcileRate = 7 * 24 * time.Hour / DivergencePeriods

// validate records every problem of c in env, one named step per concern.
func validate(env *config.Env, c *Config) {
	validateNames(env, c)
	validateMembers(env, c)
	validateRoles(env, c)
	validateRouting(env, c)
	validateReplicator(env, c)
	validateSchedules(env, c)
	validateDeciderTimes(env, c)
	validateAlarms(env, c)
	validateRetention(env, c)
}

// validateNames checks the account and the names every physical name derives from.
func validateNames(env *config.Env, c *Config) {
	if !accountPattern.MatchString(c.Account) {
		env.Fail(CtxAccount, "want a 12-digit AWS account id, got %q", c.Account)
	}
	if !namePattern.MatchString(c.Name) {
		env.Fail(CtxName, "want 3 to 20 lowercase letters, digits or hyphens (no leading or trailing hyphen), got %q", c.Name)
	}
	if !bucketPrefixPattern.MatchString(c.BucketPrefix) || strings.Contains(c.BucketPrefix, "--") {
		env.Fail(CtxBucketPrefix, "want 2 to 28 lowercase letters, digits or single hyphens, got %q", c.BucketPrefix)
	}
}

// validateMembers checks the member Regions and the home Region.
func validateMembers(env *config.Env, c *Config) {
	seen := map[string]bool{}
	for _, r := range c.Regions {
		if !config.ValidRegion(r) {
			env.Fail(CtxRegions, "%q is not a Region name", r)
		}
		if seen[r] {
			env.Fail(CtxRegions, "Region %q appears twice", r)
		}
		seen[r] = true
	}
	if len(c.Regions) < 2 {
		env.Fail(CtxRegions, "a Multi-Region Access Point needs at least 2 member Regions, got %d (%s)", len(c.Regions), strings.Join(c.Regions, ","))
	}
	if len(c.Regions) > 17 {
		env.Fail(CtxRegions, "a Multi-Region Access Point has at most 17 Regions, got %d", len(c.Regions))
	}
	if !slices.Contains(RoutesAPIRegions(), c.HomeRegion) {
		env.Fail(CtxHomeRegion, "%q cannot serve the routes API; choose one of %s", c.HomeRegion, strings.Join(RoutesAPIRegions(), ", "))
	}
}

// validateRoles checks the deciders and witnesses, and that the state copies they make up
// keep a majority when any one Region is lost (docs/failover.md).
func validateRoles(env *config.Env, c *Config) {
	distinctRegions(env, CtxControlRegions, c.Deciders)
	if len(c.Deciders) < 2 {
		env.Fail(CtxControlRegions, "failover must run in at least 2 Regions so that losing one still fails over, got %d (%s)", len(c.Deciders), strings.Join(c.Deciders, ","))
	}
	if len(c.Deciders) > maxDeciders {
		env.Fail(CtxControlRegions, "at most %d Regions (every forwarding rule targets each decider's event bus; EventBridge allows %d targets per rule), got %d", maxDeciders, maxDeciders, len(c.Deciders))
	}
	distinctRegions(env, CtxWitnessRegions, c.Witnesses)
	for _, w := range c.Witnesses {
		if c.IsMember(w) {
			env.Fail(CtxWitnessRegions, "%q is a member Region; a witness is a Region without a member bucket", w)
		}
	}
	if s := c.StateRegions(); len(s) < 3 {
		env.Fail(CtxWitnessRegions, "the failover state needs copies in at least 3 Regions so that a majority survives the loss of one, but members, witnesses and controlRegions span %d (%s); add a witness Region (-c %s=REGION)",
			len(s), strings.Join(s, ","), CtxWitnessRegions)
	}
}

// distinctRegions records names that are not Region names or appear twice in list.
func distinctRegions(env *config.Env, key string, list []string) {
	seen := map[string]bool{}
	for _, r := range list {
		if !config.ValidRegion(r) {
			env.Fail(key, "%q is not a Region name", r)
		}
		if seen[r] {
			env.Fail(key, "Region %q appears twice", r)
		}
		seen[r] = true
	}
}

// validateRouting checks the routing policy settings.
func validateRouting(env *config.Env, c *Config) {
	switch c.Mode {
	case ModeActiveActive, ModeActivePassive:
	default:
		env.Fail(CtxMode, "unknown mode %q; want %s or %s", c.Mode, ModeActiveActive, ModeActivePassive)
	}
	if !samePermutation(c.Priority, c.Regions) {
		env.Fail(CtxPriority, "must list every member Region exactly once, got %q for members %q", strings.Join(c.Priority, ","), strings.Join(c.Regions, ","))
	}
	if c.MinActive < 1 || c.MinActive > len(c.Regions) {
		env.Fail(CtxMinActive, "want 1 to %d, got %d", len(c.Regions), c.MinActive)
	}
	switch c.InsufficientData {
	case "ignore", "unhealthy":
	default:
		env.Fail(CtxInsufficientData, "want ignore or unhealthy, got %q", c.InsufficientData)
	}
}

// validateReplicator checks the replicator's storage class and function settings.
func validateReplicator(env *config.Env, c *Config) {
	storageClasses := []string{"", "STANDARD", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE", "REDUCED_REDUNDANCY"}
	if !slices.Contains(storageClasses, c.StorageClass) {
		env.Fail(CtxStorageClass, "unknown storage class %q", c.StorageClass)
	}
	if c.ReplicatorMemoryMB < 128 || c.ReplicatorMemoryMB > 10240 {
		env.Fail(CtxReplicatorMemory, "want 128 to 10240, got %d", c.ReplicatorMemoryMB)
	}
	if c.ReplicatorTimeout < 10*time.Second || c.ReplicatorTimeout > 15*time.Minute {
		env.Fail(CtxReplicatorTimeout, "want 10 to 900 seconds, got %d", int(c.ReplicatorTimeout.Seconds()))
	}
	if c.ReplicatorBatchSize < 1 || c.ReplicatorBatchSize > 10 {
		env.Fail(CtxReplicatorBatchSize, "want 1 to 10, got %d", c.ReplicatorBatchSize)
	}
	if c.ReplicatorMaxConcurrency < 2 || c.ReplicatorMaxConcurrency > 1000 {
		env.Fail(CtxReplicatorMaxConcurrency, "want 2 to 1000 (SQS event source maximum concurrency), got %d", c.ReplicatorMaxConcurrency)
	}
	if c.ReplicatorReserved != 0 && c.ReplicatorReserved < c.ReplicatorMaxConcurrency {
		env.Fail(CtxReplicatorReserved, "want 0 (unreserved) or at least %s (%d), got %d", CtxReplicatorMaxConcurrency, c.ReplicatorMaxConcurrency, c.ReplicatorReserved)
	}
}

// validateSchedules checks the prober, re-evaluation and reconcile rates.
func validateSchedules(env *config.Env, c *Config) {
	if c.ProberRate < time.Minute || c.ProberRate > time.Hour {
		env.Fail(CtxProberRate, "want 1 to 60 minutes, got %d", int(c.ProberRate.Minutes()))
	}
	if c.ReevaluateRate < time.Minute || c.ReevaluateRate > time.Hour {
		env.Fail(CtxReevaluateRate, "want 1 to 60 minutes, got %d", int(c.ReevaluateRate.Minutes()))
	}
	// One invocation may run 15 minutes; the divergence alarm evaluates two reconcile periods,
	// and CloudWatch evaluates an alarm over at most 7 days.
	if c.ReconcileRate < 15*time.Minute || c.ReconcileRate > maxReconcileRate {
		env.Fail(CtxReconcileRate, "want 15 to %d minutes (one invocation may run 15; the divergence alarm spans %d periods, CloudWatch at most 7 days), got %d",
			int(maxReconcileRate.Minutes()), DivergencePeriods, int(c.ReconcileRate.Minutes()))
	}
}

// validateDeciderTimes checks the lease, view bound and skew against the schedule that
// refreshes the lease and the failover function's timeout.
func validateDeciderTimes(env *config.Env, c *Config) {
	if c.LeaseTTL < 2*c.ReevaluateRate || c.LeaseTTL > 24*time.Hour {
		env.Fail(CtxLeaseTTL, "want at least two re-evaluation periods (%s: the primary refreshes its lease once per period) and at most 24h, got %s",
			2*c.ReevaluateRate, c.LeaseTTL)
	}
	if c.ViewBound < time.Second || c.ViewBound >= failoverTimeout {
		env.Fail(CtxViewBound, "want at least 1s and less than the failover function's timeout (%s), got %s", failoverTimeout, c.ViewBound)
	}
	if c.MaxSkew < 0 || c.MaxSkew >= c.LeaseTTL {
		env.Fail(CtxMaxSkew, "want 0 or more and less than %s (%s), got %s", CtxLeaseTTL, c.LeaseTTL, c.MaxSkew)
	}
}

// validateAlarms checks the alarm thresholds.
func validateAlarms(env *config.Env, c *Config) {
	if a := c.Alarms.AvailabilityBelow; a <= 0 || a > 1 {
		env.Fail(CtxAlarmAvailability, "want a fraction in (0, 1], got %v", a)
	}
	if c.Alarms.Latency < time.Second {
		env.Fail(CtxAlarmLatency, "want at least 1 second, got %d", int(c.Alarms.Latency.Seconds()))
	}
	if c.Alarms.EvaluationPeriods < 1 || c.Alarms.EvaluationPeriods > 60 {
		env.Fail(CtxAlarmPeriods, "want 1 to 60, got %d", c.Alarms.EvaluationPeriods)
	}
}

// validateRetention checks the lifecycle and log retention days.
func validateRetention(env *config.Env, c *Config) {
	if c.NoncurrentVersionDays < 1 {
		env.Fail(CtxNoncurrentDays, "want at least 1 day, got %d", c.NoncurrentVersionDays)
	}
	if c.AbortMultipartDays < 1 {
		env.Fail(CtxAbortMultipartDays, "want at least 1 day, got %d", c.AbortMultipartDays)
	}
	if !slices.Contains(logRetentionDays(), c.LogRetentionDays) {
		env.Fail(CtxLogRetentionDays, "want one of the CloudWatch Logs retention values %v, got %d", logRetentionDays(), c.LogRetentionDays)
	}
}

// logRetentionDays returns the values CloudWatch Logs accepts.
func logRetentionDays() []int {
	return []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
}

func samePermutation(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// membersEnv renders MRAP_MEMBERS: region=bucket pairs of every member.
func membersEnv(c Config) string {
	parts := make([]string, 0, len(c.Regions))
	for _, m := range c.Members() {
		parts = append(parts, m.Region+"="+m.Bucket)
	}
	return strings.Join(parts, ",")
}
