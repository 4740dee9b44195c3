package failover

import (
	"slices"
	"strings"
	"time"

	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/health"
	"github.com/mrap-engine/mrap/shared/mrap"
	"github.com/mrap-engine/mrap/shared/routing"
)

// Config is the failover function's configuration (docs/contracts.md, "Environment of the
// functions").
type Config struct {
	Members         []config.Member
	AccountID       string
	ARN             string
	ControlRegions  []string
	ControlEndpoint string
	Endpoints       map[string]string
	Policy          routing.Policy
	AlarmPrefix     string
	DryRun          bool
	AuditTopicARN   string
	MetricNamespace string
	// Witnesses are observer Regions with no member bucket.
	Witnesses []string
	// Decider is this function's Region; Deciders every decider in priority order.
	Decider  string
	Deciders []string
	// StateCopies is the state bucket of every Region of S (members ∪ witnesses ∪
	// deciders); StatePrefix where the records live.
	StateCopies                  map[string]string
	StatePrefix                  string
	LeaseTTL, ViewBound, MaxSkew time.Duration
}

// LoadConfig reads the failover configuration from env; home is the Region the function
// runs in (AWS_REGION), the decider unless MRAP_DECIDER says otherwise. Problems are
// recorded in env; check env.Err().
func LoadConfig(env *config.Env, home string) Config {
	c := Config{
		Witnesses:       env.List("MRAP_WITNESSES", nil),
		Decider:         env.String("MRAP_DECIDER", home),
		StateCopies:     env.Map("MRAP_STATE_COPIES"),
		StatePrefix:     env.String("MRAP_STATE_PREFIX", DefaultPrefix),
		LeaseTTL:        env.Duration("MRAP_LEASE_TTL", 3*time.Minute),
		ViewBound:       env.Duration("MRAP_VIEW_BOUND", 30*time.Second),
		MaxSkew:         env.Duration("MRAP_MAX_SKEW", 5*time.Second),
		Members:         env.Members("MRAP_MEMBERS"),
		AccountID:       env.Required("MRAP_ACCOUNT_ID"),
		ARN:             env.Required("MRAP_ARN"),
		ControlRegions:  env.List("MRAP_CONTROL_REGIONS", mrap.DefaultControlRegions),
		ControlEndpoint: env.String("MRAP_CONTROL_ENDPOINT", ""),
		Endpoints:       env.Map("MRAP_ENDPOINTS"),
		AlarmPrefix:     env.Required("MRAP_ALARM_PREFIX"),
		DryRun:          env.Bool("MRAP_DRY_RUN", false),
		AuditTopicARN:   env.String("MRAP_AUDIT_TOPIC_ARN", ""),
		MetricNamespace: env.String("MRAP_METRIC_NAMESPACE", ""),
	}
	c.Deciders = env.List("MRAP_DECIDERS", []string{c.Decider})
	c.ControlRegions = mrap.TryOrder(c.ControlRegions, c.Decider)
	c.Policy = routing.Policy{
		Mode:             routing.Mode(env.String("MRAP_ROUTING_MODE", string(routing.ActiveActive))),
		Priority:         env.List("MRAP_PRIORITY", nil),
		MinActive:        int(env.Int64("MRAP_MIN_ACTIVE", 1)),
		Cooldown:         env.Duration("MRAP_COOLDOWN", 5*time.Minute),
		Failback:         env.Bool("MRAP_FAILBACK", false),
		FailbackWindow:   env.Duration("MRAP_FAILBACK_WINDOW", 15*time.Minute),
		InsufficientData: routing.InsufficientDataPolicy(env.String("MRAP_INSUFFICIENT_DATA", string(routing.Ignore))),
	}
	if err := c.Policy.Validate(); err != nil {
		env.Fail("MRAP_ROUTING_MODE/MRAP_PRIORITY/MRAP_MIN_ACTIVE/MRAP_INSUFFICIENT_DATA", "%v", err)
	}
	regions := c.Regions()
	for _, r := range c.Policy.Priority {
		if !slices.Contains(regions, r) {
			env.Fail("MRAP_PRIORITY", "%s is not in MRAP_MEMBERS", r)
		}
	}
	if c.Policy.MinActive > len(regions) && len(regions) > 0 {
		env.Fail("MRAP_MIN_ACTIVE", "%d exceeds the %d members", c.Policy.MinActive, len(regions))
	}
	for _, r := range c.ControlRegions {
		if !config.ValidRegion(r) {
			env.Fail("MRAP_CONTROL_REGIONS", "%q is not a Region name", r)
		}
	}
	if c.ARN != "" && !strings.Contains(c.ARN, ":accesspoint/") {
		env.Fail("MRAP_ARN", "want arn:aws:s3::ACCOUNT:accesspoint/ALIAS, got %q", c.ARN)
	}
	for _, key := range []string{"MRAP_STATE_BUCKET", "MRAP_STATE_KEY"} {
		if v := env.String(key, ""); v != "" {
			env.Fail(key, "is replaced by MRAP_STATE_COPIES (region=bucket of every Region of members, witnesses and deciders; docs/contracts.md)")
		}
	}
	for _, r := range c.Witnesses {
		if !config.ValidRegion(r) {
			env.Fail("MRAP_WITNESSES", "%q is not a Region name", r)
		} else if slices.Contains(regions, r) {
			env.Fail("MRAP_WITNESSES", "%s is a member: a witness is a Region with no member bucket", r)
		}
	}
	for _, r := range c.Deciders {
		if !config.ValidRegion(r) {
			env.Fail("MRAP_DECIDERS", "%q is not a Region name", r)
		}
	}
	if c.Decider != "" && !slices.Contains(c.Deciders, c.Decider) {
		env.Fail("MRAP_DECIDER", "%s is not in MRAP_DECIDERS %v", c.Decider, c.Deciders)
	}
	if len(c.StateCopies) == 0 {
		env.Fail("MRAP_STATE_COPIES", "is required: region=bucket of the state bucket of every Region of members, witnesses and deciders")
	} else {
		for _, r := range slices.Concat(regions, c.Witnesses, c.Deciders) {
			if _, ok := c.StateCopies[r]; !ok {
				env.Fail("MRAP_STATE_COPIES", "has no state bucket for %s (every member, witness and decider holds a copy)", r)
				break
			}
		}
	}
	if !strings.HasSuffix(c.StatePrefix, "/") {
		env.Fail("MRAP_STATE_PREFIX", "%q must end with /", c.StatePrefix)
	}
	for k, d := range map[string]time.Duration{"MRAP_LEASE_TTL": c.LeaseTTL, "MRAP_VIEW_BOUND": c.ViewBound, "MRAP_MAX_SKEW": c.MaxSkew} {
		if d <= 0 {
			env.Fail(k, "%s must be positive", d)
		}
	}
	if c.ViewBound >= c.LeaseTTL && c.LeaseTTL > 0 {
		env.Fail("MRAP_VIEW_BOUND", "%s must be shorter than MRAP_LEASE_TTL %s", c.ViewBound, c.LeaseTTL)
	}
	return c
}

// Topology is the members and witnesses: the observers of the quorum health.
func (c Config) Topology() health.Topology {
	return health.Topology{Members: c.Regions(), Witnesses: c.Witnesses}
}

// Regions lists the member Regions in the order given.
func (c Config) Regions() []string {
	out := make([]string, 0, len(c.Members))
	for _, m := range c.Members {
		out = append(out, m.Region)
	}
	return out
}
