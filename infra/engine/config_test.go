package engine

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// ctx is CDK context as the CLI passes it: -c values are strings, cdk.json values JSON.
func ctx(kv map[string]any) ContextLookup {
	return func(key string) (any, bool) {
		v, ok := kv[key]
		return v, ok
	}
}

// withWitness is ctx with a witness Region (us-east-2) unless kv names witnesses: two members
// alone have too few state copies.
func withWitness(kv map[string]any) ContextLookup {
	all := map[string]any{CtxWitnessRegions: "us-east-2"}
	for k, v := range kv {
		all[k] = v
	}
	return ctx(all)
}

func TestConfigFromContextDefaults(t *testing.T) {
	c, err := loadConfig(withWitness(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Regions, []string{"us-east-1", "us-west-2"}; !slices.Equal(got, want) {
		t.Errorf("regions = %v, want %v", got, want)
	}
	if c.HomeRegion != "us-east-1" {
		t.Errorf("home = %q, want the first member that serves the routes API (us-east-1)", c.HomeRegion)
	}
	if !slices.Equal(c.Priority, c.Regions) {
		t.Errorf("priority = %v, want the member order %v", c.Priority, c.Regions)
	}
	if c.Mode != ModeActiveActive || c.Account != PlaceholderAccount || c.BucketPrefix != c.Name {
		t.Errorf("mode, account, bucket prefix = %q, %q, %q", c.Mode, c.Account, c.BucketPrefix)
	}
	if c.Cooldown != 5*time.Minute || c.FailbackWindow != 15*time.Minute || c.ReplicatorTimeout != 5*time.Minute {
		t.Errorf("cooldown, failback window, replicator timeout = %v, %v, %v", c.Cooldown, c.FailbackWindow, c.ReplicatorTimeout)
	}
	if c.BatchRepair || c.MarkerRecordDays != 30 {
		t.Errorf("batch repair, marker record days = %v, %d, want false, 30", c.BatchRepair, c.MarkerRecordDays)
	}
	if got, want := c.Deciders, []string{"us-east-1", "us-west-2"}; !slices.Equal(got, want) {
		t.Errorf("deciders = %v, want the members that serve the routes API %v", got, want)
	}
	if c.LeaseTTL != 3*time.Minute || c.ViewBound != 30*time.Second || c.MaxSkew != 5*time.Second {
		t.Errorf("lease, view bound, skew = %v, %v, %v, want 3m, 30s, 5s", c.LeaseTTL, c.ViewBound, c.MaxSkew)
	}
	if got, want := c.StateRegions(), []string{"us-east-1", "us-west-2", "us-east-2"}; !slices.Equal(got, want) {
		t.Errorf("state copies = %v, want %v", got, want)
	}
}

func TestRolesOfTheRegions(t *testing.T) {
	tests := []struct {
		name                                 string
		ctx                                  map[string]any
		deciders, observers, state, warnings []string
	}{
		{"members that serve the routes API decide",
			map[string]any{"regions": "eu-west-1,eu-central-1,us-east-1"},
			[]string{"eu-west-1", "us-east-1"}, []string{"eu-west-1", "eu-central-1", "us-east-1", "us-east-2"},
			[]string{"eu-west-1", "eu-central-1", "us-east-1", "us-east-2"}, nil},
		{"members without the routes API: the first routes-API Regions decide",
			map[string]any{"regions": "eu-central-1,eu-north-1", "homeRegion": "us-west-2", "witnessRegions": ""},
			[]string{"us-east-1", "us-west-2"}, []string{"eu-central-1", "eu-north-1"},
			[]string{"eu-central-1", "eu-north-1", "us-east-1", "us-west-2"},
			[]string{"two member Regions (eu-central-1, eu-north-1) and no witness Region"}},
		{"one member decides, another Region too",
			map[string]any{"regions": "eu-west-1,eu-central-1", "controlRegions": "eu-west-1,ap-northeast-1", "witnessRegions": "us-east-2"},
			[]string{"eu-west-1", "ap-northeast-1"}, []string{"eu-west-1", "eu-central-1", "us-east-2"},
			[]string{"eu-west-1", "eu-central-1", "us-east-2", "ap-northeast-1"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadConfig(withWitness(tt.ctx))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.Deciders, tt.deciders) || !slices.Equal(c.Observers(), tt.observers) || !slices.Equal(c.StateRegions(), tt.state) {
				t.Errorf("deciders %v, observers %v, state %v; want %v, %v, %v", c.Deciders, c.Observers(), c.StateRegions(), tt.deciders, tt.observers, tt.state)
			}
			w := c.Warnings()
			if len(w) != len(tt.warnings) || (len(w) > 0 && !strings.Contains(w[0], tt.warnings[0])) {
				t.Errorf("warnings = %q, want %q", w, tt.warnings)
			}
		})
	}
}

func TestConfigFromContextReadsCLIAndCdkJSONValues(t *testing.T) {
	tests := []struct {
		name string
		ctx  map[string]any
		want func(Config) bool
	}{
		{"comma-separated -c list", map[string]any{"regions": "eu-west-1, ap-southeast-2,us-east-1"},
			func(c Config) bool {
				return slices.Equal(c.Regions, []string{"eu-west-1", "ap-southeast-2", "us-east-1"})
			}},
		{"JSON list given to -c", map[string]any{"regions": `["eu-west-1","us-east-1"]`},
			func(c Config) bool { return slices.Equal(c.Regions, []string{"eu-west-1", "us-east-1"}) }},
		{"cdk.json list", map[string]any{"regions": []any{"eu-west-1", "us-east-1"}},
			func(c Config) bool { return slices.Equal(c.Regions, []string{"eu-west-1", "us-east-1"}) }},
		{"home defaults to the first routes-API member", map[string]any{"regions": "eu-central-1,eu-west-1"},
			func(c Config) bool { return c.HomeRegion == "eu-west-1" }},
		{"home outside the members is allowed", map[string]any{"regions": "eu-central-1,eu-north-1", "homeRegion": "us-west-2"},
			func(c Config) bool { return c.HomeRegion == "us-west-2" }},
		{"cdk.json numbers and booleans", map[string]any{"kms": true, "replicatorBatchSize": float64(5), "alarmAvailabilityBelow": 0.75},
			func(c Config) bool { return c.KMS && c.ReplicatorBatchSize == 5 && c.Alarms.AvailabilityBelow == 0.75 }},
		{"-c strings for numbers and booleans", map[string]any{"kms": "true", "replicatorBatchSize": "5", "alarmLatencySeconds": "60"},
			func(c Config) bool { return c.KMS && c.ReplicatorBatchSize == 5 && c.Alarms.Latency == time.Minute }},
		{"active-passive with priority", map[string]any{"mode": "active-passive", "priority": "us-west-2,us-east-1"},
			func(c Config) bool { return c.Mode == ModeActivePassive && c.Priority[0] == "us-west-2" }},
		{"empty values fall back to defaults", map[string]any{"priority": "", "homeRegion": "", "bucketPrefix": ""},
			func(c Config) bool { return c.HomeRegion == "us-east-1" && c.BucketPrefix == "mrap-engine" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadConfig(withWitness(tt.ctx))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.want(c) {
				t.Errorf("unexpected config %+v", c)
			}
		})
	}
}

// invalidConfigs are the configurations that must stop synthesis, with the message each gives.
var invalidConfigs = []struct {
	name string
	ctx  map[string]any
	want string
}{
	{"one Region", map[string]any{"regions": "us-east-1"}, "needs at least 2 member Regions, got 1"},
	{"duplicate Regions", map[string]any{"regions": "us-east-1,eu-west-1,us-east-1"}, `Region "us-east-1" appears twice`},
	{"home Region without the routes API", map[string]any{"regions": "eu-central-1,eu-west-1", "homeRegion": "eu-central-1"}, `homeRegion: "eu-central-1" cannot serve the routes API`},
	{"unknown mode", map[string]any{"mode": "round-robin"}, `unknown mode "round-robin"`},
	{"not a Region", map[string]any{"regions": "us-east-1,mars-1"}, `"mars-1" is not a Region name`},
	{"bad account", map[string]any{"account": "12345"}, "want a 12-digit AWS account id"},
	{"priority not the members", map[string]any{"mode": "active-passive", "priority": "us-east-1,eu-west-1"}, "priority: must list every member Region exactly once"},
	{"min active above members", map[string]any{"minActive": "3"}, "minActive: want 1 to 2, got 3"},
	{"name too long for derived names", map[string]any{"name": "a-very-long-engine-name-x"}, "name: want 3 to 20"},
	{"reserved below SQS concurrency", map[string]any{"replicatorReservedConcurrency": "5"}, "replicatorReservedConcurrency: want 0 (unreserved) or at least"},
	{"availability not a fraction", map[string]any{"alarmAvailabilityBelow": "1.5"}, "want a fraction in (0, 1]"},
	{"log retention CloudWatch refuses", map[string]any{"logRetentionDays": "13"}, "logRetentionDays: want one of"},
	{"not a boolean", map[string]any{"kms": "yes"}, `kms: want true or false, got "yes"`},
	{"insufficient data policy", map[string]any{"insufficientData": "panic"}, "insufficientData: want ignore or unhealthy"},
	{"reconcile rate beyond the divergence alarm's range", map[string]any{"reconcileRateMinutes": "5041"}, "reconcileRateMinutes: want 15 to 5040 minutes"},
	{"negative marker record days", map[string]any{"markerRecordDays": "-1"}, "markerRecordDays: want a non-negative integer"},
	{"two members, no witness: two state copies", map[string]any{"regions": "us-east-1,us-west-2"}, "witnessRegions: the failover state needs copies in at least 3 Regions so that a majority survives the loss of one, but members, witnesses and controlRegions span 2 (us-east-1,us-west-2); add a witness Region"},
	{"one decider", map[string]any{"controlRegions": "us-east-1", "witnessRegions": "us-east-2"}, "controlRegions: failover must run in at least 2 Regions"},
	{"decider twice", map[string]any{"controlRegions": "us-east-1,us-east-1", "witnessRegions": "us-east-2"}, `controlRegions: Region "us-east-1" appears twice`},
	{"decider not a Region", map[string]any{"controlRegions": "us-east-1,moon-1", "witnessRegions": "us-east-2"}, `controlRegions: "moon-1" is not a Region name`},
	{"six deciders", map[string]any{"controlRegions": "us-east-1,us-west-2,eu-west-1,ap-southeast-2,ap-northeast-1,us-east-2"}, "controlRegions: at most 5 Regions"},
	{"witness is a member", map[string]any{"witnessRegions": "us-west-2"}, `witnessRegions: "us-west-2" is a member Region`},
	{"witness not a Region", map[string]any{"witnessRegions": "nowhere"}, `witnessRegions: "nowhere" is not a Region name`},
	{"lease shorter than two schedule periods", map[string]any{"leaseTtl": "90s", "witnessRegions": "us-east-2"}, "leaseTtl: want at least two re-evaluation periods"},
	{"view bound as long as the function timeout", map[string]any{"viewBound": "1m", "witnessRegions": "us-east-2"}, "viewBound: want at least 1s and less than the failover function's timeout"},
	{"skew as long as the lease", map[string]any{"maxSkew": "3m", "witnessRegions": "us-east-2"}, "maxSkew: want 0 or more and less than leaseTtl"},
}

func TestConfigFromContextRejectsInvalidConfiguration(t *testing.T) {
	for _, tt := range invalidConfigs {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(ctx(tt.ctx))
			if err == nil {
				t.Fatal("got no error")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "invalid configuration") {
				t.Errorf("error = %q, want it to start with %q and contain %q", err, "invalid configuration", tt.want)
			}
		})
	}
}

func TestConfigFromContextReportsEveryProblemAtOnce(t *testing.T) {
	_, err := loadConfig(ctx(map[string]any{"regions": "us-east-1", "mode": "sideways", "account": "x"}))
	if err == nil {
		t.Fatal("got no error")
	}
	for _, want := range []string{"regions:", "mode:", "account:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestCdkJSONContextIsValidAndKnown(t *testing.T) {
	raw, err := os.ReadFile("../../cdk.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		App     string         `json:"app"`
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	if file.App != "go run ./infra" {
		t.Errorf("app = %q", file.App)
	}
	known := []string{CtxAccount, CtxRegions, CtxHomeRegion, CtxName, CtxBucketPrefix, CtxMode, CtxPriority,
		CtxMinActive, CtxCooldown, CtxFailback, CtxFailbackWindow, CtxInsufficientData, CtxDryRun, CtxKMS,
		CtxReplicatePermanentDeletes, CtxReplicateLifecycleDeletes, CtxStorageClass, CtxReplicatorMemory,
		CtxReplicatorTimeout, CtxReplicatorBatchSize, CtxReplicatorMaxConcurrency, CtxReplicatorReserved,
		CtxProberRate, CtxReevaluateRate, CtxReconcileRate, CtxReconcileDryRun, CtxAlarmAvailability, CtxAlarmLatency, CtxAlarmErrors, CtxAlarmPeriods, CtxNoncurrentDays,
		CtxAbortMultipartDays, CtxLogRetentionDays, CtxPrivateAccess, CtxBatchRepair, CtxMarkerRecordDays, CtxUnguardedWrites,
		CtxControlRegions, CtxWitnessRegions, CtxLeaseTTL, CtxViewBound, CtxMaxSkew}
	for k := range file.Context {
		if !slices.Contains(known, k) && !strings.HasPrefix(k, "@aws-cdk/") {
			t.Errorf("cdk.json context key %q is not read by the app", k)
		}
	}
	for _, k := range known {
		if _, ok := file.Context[k]; !ok {
			t.Errorf("cdk.json documents no default for %q", k)
		}
	}
	c, err := loadConfig(ctx(file.Context))
	if err != nil {
		t.Fatalf("cdk.json defaults are invalid: %v", err)
	}
	if c.Account != PlaceholderAccount {
		t.Errorf("cdk.json account = %q, want the documented placeholder %s", c.Account, PlaceholderAccount)
	}
}

func TestNamesFitAWSLimits(t *testing.T) {
	// The longest allowed name and prefix with the longest Region names.
	n := Names{Name: strings.Repeat("n", 20), BucketPrefix: strings.Repeat("b", 28), Account: "123456789012"}
	for _, region := range []string{"ap-southeast-2", "ap-southeast-5", "us-gov-west-1"} {
		for _, b := range []string{n.Bucket(region), n.AccessLogBucket(region), n.StateBucket(region)} {
			if len(b) > 63 {
				t.Errorf("bucket %q has %d characters, S3 allows 63", b, len(b))
			}
		}
		for _, fn := range []string{"replicator", "prober", "failover", "reconciler", "forward-alarms", "forward-health", "failover-commands", "batch-jobs", "failover-reevaluate", "decider", "witness", "relay"} {
			if name := n.Function(fn, region); len(name) > 64 {
				t.Errorf("function/role/rule name %q has %d characters, AWS allows 64", name, len(name))
			}
		}
		if q := n.DeadLetterQueue(region); len(q) > 80 {
			t.Errorf("queue %q has %d characters, SQS allows 80", q, len(q))
		}
	}
}

func TestNamesAreDeterministic(t *testing.T) {
	n := Names{Name: "eng", BucketPrefix: "data", Account: "123456789012"}
	tests := []struct{ got, want string }{
		{n.Bucket("eu-west-1"), "data-123456789012-eu-west-1"},
		{n.BucketArn("eu-west-1"), "arn:aws:s3:::data-123456789012-eu-west-1"},
		{n.HealthAlarm("eu-west-1", "us-east-2", AlarmAvailability), "eng-health-eu-west-1-from-us-east-2-availability"},
		{n.ObserverAlarmArnPattern("us-east-2"), "arn:aws:cloudwatch:us-east-2:123456789012:alarm:eng-health-*-from-us-east-2-*"},
		{n.StateBucket("us-east-2"), "data-state-123456789012-us-east-2"},
		{DeciderRecordKey("us-west-2"), ".mrap-state/failover/deciders/us-west-2.json"},
		{CanaryKey("us-east-2"), ".mrap-canary/from-us-east-2"},
		{n.OpsAlarm("eu-west-1", AlarmDLQNotEmpty), "eng-ops-eu-west-1-dlq-not-empty"},
		{n.RoleArn("prober", "us-east-1"), "arn:aws:iam::123456789012:role/eng-prober-us-east-1"},
		{n.DefaultBusArn("us-west-2"), "arn:aws:events:us-west-2:123456789012:event-bus/default"},
		{n.MRAPArn("abc.mrap"), "arn:aws:s3::123456789012:accesspoint/abc.mrap"},
		{exportSuffix("ap-southeast-2"), "ApSoutheast2"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	// A health alarm must match the prefix the failover function lists by and the IAM
	// pattern of its observer.
	if got := n.HealthAlarm("eu-west-1", "us-east-2", AlarmAvailability); !strings.HasPrefix(got, n.AlarmPrefix()+"eu-west-1-from-us-east-2-") {
		t.Errorf("health alarm %q does not follow {MRAP_ALARM_PREFIX}{target}-from-{observer}-{kind}", got)
	}
	if strings.HasPrefix(n.OpsAlarm("eu-west-1", AlarmDLQNotEmpty), n.AlarmPrefix()) {
		t.Error("operational alarms must not count toward failover")
	}
}

func TestInitialRoutesFollowTheMode(t *testing.T) {
	base := Config{Name: "eng", BucketPrefix: "eng", Account: "123456789012",
		Regions: []string{"us-east-1", "eu-west-1", "ap-southeast-2"}, Priority: []string{"eu-west-1", "ap-southeast-2", "us-east-1"}}
	tests := []struct {
		mode string
		want map[string]int
	}{
		{ModeActiveActive, map[string]int{"eu-west-1": 100, "ap-southeast-2": 100, "us-east-1": 100}},
		{ModeActivePassive, map[string]int{"eu-west-1": 100, "ap-southeast-2": 0, "us-east-1": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			c := base
			c.Mode = tt.mode
			routes := InitialRoutesFor(c)
			if len(routes) != 3 {
				t.Fatalf("got %d routes, want 3", len(routes))
			}
			for _, r := range routes {
				if r.TrafficDialPercentage != tt.want[r.Region] || r.Bucket != c.Names().Bucket(r.Region) {
					t.Errorf("route %+v, want dial %d", r, tt.want[r.Region])
				}
			}
		})
	}
}

func TestRoutesAPIOrderStartsAtTheDecider(t *testing.T) {
	tests := []struct {
		decider string
		want    []string
	}{
		{"eu-west-1", []string{"eu-west-1", "us-east-1", "us-west-2", "ap-southeast-2", "ap-northeast-1"}},
		{"eu-central-1", RoutesAPIRegions()}, // serves no routes API: the documented order
	}
	for _, tt := range tests {
		if got := RoutesAPIOrder(tt.decider); !slices.Equal(got, tt.want) {
			t.Errorf("routes API order of %s = %v, want %v", tt.decider, got, tt.want)
		}
	}
}
