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
	})
	c := LoadConfig(env, "us-east-1")
	if err := env.Err(); err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	want := routing.Policy{Mode: routing.ActivePassive, Priority: []string{"eu-west-1", "us-east-1"}, MinActive: 1, Cooldown: 2 * time.Minute, Failback: true, FailbackWindow: 10 * time.Minute, InsufficientData: routing.Unhealthy}
	if !reflect.DeepEqual(c.Policy, want) {
		t.Errorf("Policy = %+v, want %+v", c.Policy, want)
	}
	if !c.DryRun || c.StateBucket != "data-use1" || c.StateKey != DefaultStateKey || len(c.ControlRegions) != 5 {
		t.Errorf("config = %+v", c)
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
	})
	LoadConfig(env, "ap-south-1")
	err := env.Err()
	for _, want := range []string{"MRAP_ACCOUNT_ID: is required", "MRAP_ALARM_PREFIX: is required", "MRAP_ARN: want", "MRAP_PRIORITY: sa-east-1 is not in MRAP_MEMBERS", `MRAP_CONTROL_REGIONS: "moon-1"`, "MRAP_COOLDOWN", "MRAP_STATE_BUCKET: is required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v\nwant it to mention %q", err, want)
		}
	}
}
