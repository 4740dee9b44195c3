package failover

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/routing"
)

func TestLoadConfig(t *testing.T) {
	env := config.FromMap(map[string]string{
		"MRAP_MEMBERS":           "us-east-1=data-use1,eu-west-1=data-euw1",
		"MRAP_ACCOUNT_ID":        "123456789012",
		"MRAP_ARN":               "arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap",
		"MRAP_ROUTING_MODE":      "active-passive",
		"MRAP_PRIORITY":          "eu-west-1,us-east-1",
		"MRAP_COOLDOWN":          "2m",
		"MRAP_FAILBACK":          "true",
		"MRAP_FAILBACK_WINDOW":   "10m",
		"MRAP_INSUFFICIENT_DATA": "unhealthy",
		"MRAP_ALARM_PREFIX":      "mrap-",
		"MRAP_DRY_RUN":           "true",
		"MRAP_WITNESSES":         "us-west-2",
		"MRAP_DECIDERS":          "us-east-1,eu-west-1",
		"MRAP_STATE_COPIES":      "us-east-1=state-use1,eu-west-1=state-euw1,us-west-2=state-usw2",
		"MRAP_LEASE_TTL":         "2m",
	})
	c := LoadConfig(env, "eu-west-1")
	if err := env.Err(); err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	want := routing.Policy{Mode: routing.ActivePassive, Priority: []string{"eu-west-1", "us-east-1"}, MinActive: 1, Cooldown: 2 * time.Minute, Failback: true, FailbackWindow: 10 * time.Minute, InsufficientData: routing.Unhealthy}
	if !reflect.DeepEqual(c.Policy, want) {
		t.Errorf("Policy = %+v, want %+v", c.Policy, want)
	}
	if !c.DryRun || c.Decider != "eu-west-1" || c.StatePrefix != DefaultPrefix || c.LeaseTTL != 2*time.Minute || c.ViewBound != 30*time.Second || c.MaxSkew != 5*time.Second {
		t.Errorf("config = %+v", c)
	}
	// The decider's own routes-API Region is tried first.
	if want := []string{"eu-west-1", "us-east-1", "us-west-2", "ap-southeast-2", "ap-northeast-1"}; !reflect.DeepEqual(c.ControlRegions, want) {
		t.Errorf("ControlRegions = %v, want %v", c.ControlRegions, want)
	}
	if topo := c.Topology(); !reflect.DeepEqual(topo.Observers(), []string{"eu-west-1", "us-east-1", "us-west-2"}) {
		t.Errorf("observers = %v", topo.Observers())
	}
}

func TestLoadConfigReportsEveryProblem(t *testing.T) {
	env := config.FromMap(map[string]string{
		"MRAP_MEMBERS":         "us-east-1=data-use1,eu-west-1=data-euw1",
		"MRAP_ARN":             "mrap-alias",
		"MRAP_ROUTING_MODE":    "active-passive",
		"MRAP_PRIORITY":        "sa-east-1",
		"MRAP_MIN_ACTIVE":      "3",
		"MRAP_CONTROL_REGIONS": "us-east-1,moon-1",
		"MRAP_COOLDOWN":        "soon",
		"MRAP_WITNESSES":       "eu-west-1",
		"MRAP_DECIDERS":        "us-east-1,eu-west-1",
		"MRAP_STATE_COPIES":    "us-east-1=s1,eu-west-1=s2",
		"MRAP_STATE_BUCKET":    "old-state",
		"MRAP_VIEW_BOUND":      "5m",
	})
	LoadConfig(env, "ap-south-1")
	err := env.Err()
	for _, want := range []string{"MRAP_ACCOUNT_ID: is required", "MRAP_ALARM_PREFIX: is required", "MRAP_ARN: want", "MRAP_PRIORITY: sa-east-1 is not in MRAP_MEMBERS", `MRAP_CONTROL_REGIONS: "moon-1"`, "MRAP_COOLDOWN",
		"MRAP_STATE_BUCKET: is replaced by MRAP_STATE_COPIES", "MRAP_WITNESSES: eu-west-1 is a member", "MRAP_DECIDER: ap-south-1 is not in MRAP_DECIDERS",
		"MRAP_VIEW_BOUND: 5m0s must be shorter than MRAP_LEASE_TTL"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v\nwant it to mention %q", err, want)
		}
	}
}
