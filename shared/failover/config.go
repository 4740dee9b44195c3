package failover

import (
	"slices"
	"strings"
	"time"

	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/mrap"
	"github.com/mrap-engine/mrap/shared/replication"
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
	StateBucket     string
	StateKey        string
	StateRegion     string
}

// DefaultStateKey is where the engine keeps its small state object.
const DefaultStateKey = replication.StatePrefix + "failover.json"

// LoadConfig reads the failover configuration from env; home is the Region the function
// runs in (AWS_REGION), whose member bucket holds the state object unless MRAP_STATE_BUCKET
// says otherwise. Problems are recorded in env; check env.Err().
func LoadConfig(env *config.Env, home string) Config {
	c := Config{
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
		StateBucket:     env.String("MRAP_STATE_BUCKET", ""),
		StateKey:        env.String("MRAP_STATE_KEY", DefaultStateKey),
		StateRegion:     home,
	}
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
	if c.StateBucket == "" {
		for _, m := range c.Members {
			if m.Region == home {
				c.StateBucket = m.Bucket
			}
		}
		if c.StateBucket == "" && len(c.Members) > 0 {
			env.Fail("MRAP_STATE_BUCKET", "is required when the function's Region %q has no member bucket", home)
		}
	}
	return c
}

// Regions lists the member Regions in the order given.
func (c Config) Regions() []string {
	out := make([]string, 0, len(c.Members))
	for _, m := range c.Members {
		out = append(out, m.Region)
	}
	return out
}
