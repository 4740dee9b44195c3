// Package deployment describes an engine deployed with infra/ so that an operator's tools find
// it by name: the control stack's versioned settings output (what infra writes and mrapctl
// reads), and the discovery of every stack of a deployment through CloudFormation
// DescribeStacks or from the outputs file `cdk deploy --outputs-file` writes.
package deployment

import (
	"encoding/json"
	"fmt"
)

// The ids of the stack outputs the engine's tools read (infra creates them with these ids).
const (
	// OutputSettings is the control stack's Settings, JSON.
	OutputSettings = "EngineSettings"
	// OutputAccessPointArn is the control stack's Multi-Region Access Point ARN.
	OutputAccessPointArn = "AccessPointArn"
	// OutputQueueArn and OutputDeadLetterQueueArn are a regional stack's replication queue
	// and its dead-letter queue.
	OutputQueueArn           = "ReplicationQueueArn"
	OutputDeadLetterQueueArn = "DeadLetterQueueArn"
	// OutputAuditTopicArn is a decider stack's audit topic.
	OutputAuditTopicArn = "AuditTopicArn"
)

// SettingsVersion is the version of Settings this code writes and reads.
const SettingsVersion = 1

// The stack tags infra puts on every stack of a deployment; MrapName is always set (a user's
// own tags may replace Project), so discovery goes by it.
const (
	TagProject      = "Project"
	TagProjectValue = "mrap-engine"
	TagName         = "MrapName"
)

// Stack roles (StackRef.Role).
const (
	RoleRegion  = "region"  // a member Region: bucket, replication queue and DLQ, state copy
	RoleControl = "control" // the home Region: the access point, reconciler, dashboard
	RoleProbe   = "probe"   // an observer: prober and health alarms
	RoleWitness = "witness" // an observer with no bucket, and its state copy
	RoleDecider = "decider" // a failover function and its audit topic
	RoleRelay   = "relay"   // AWS Health forwarding in a backup Region
)

// StackRef names one stack of a deployment.
type StackRef struct {
	Name   string `json:"name"`
	Region string `json:"region"`
	Role   string `json:"role"`
}

// Settings is what the control stack publishes in its EngineSettings output: the
// deployment's name, home Region and stacks, and the part of the failover function's
// environment every decider shares (docs/contracts.md, "Environment of the functions"):
// everything but MRAP_ARN, MRAP_DECIDER and MRAP_AUDIT_TOPIC_ARN, which the access point and
// each decider's stack give.
type Settings struct {
	Version int               `json:"version"`
	Name    string            `json:"name"`
	Home    string            `json:"home"`
	Stacks  []StackRef        `json:"stacks"`
	Env     map[string]string `json:"env"`
}

// Encode renders s as the output's value (JSON with sorted keys).
func (s Settings) Encode() (string, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("encode settings: %w", err)
	}
	return string(b), nil
}

// ParseSettings reads an EngineSettings value and checks its version and contents.
func ParseSettings(value string) (Settings, error) {
	var s Settings
	if err := json.Unmarshal([]byte(value), &s); err != nil {
		return Settings{}, fmt.Errorf("output %s is not JSON: %w", OutputSettings, err)
	}
	switch {
	case s.Version < SettingsVersion:
		return Settings{}, fmt.Errorf("output %s has version %d, older than %d: %w", OutputSettings, s.Version, SettingsVersion, ErrOutdated)
	case s.Version > SettingsVersion:
		return Settings{}, fmt.Errorf("output %s has version %d, newer than this mrapctl reads (%d): use the mrapctl of the engine version deployed", OutputSettings, s.Version, SettingsVersion)
	case s.Name == "" || s.Home == "" || len(s.Env) == 0 || len(s.Stacks) == 0:
		return Settings{}, fmt.Errorf("output %s lacks its name, home Region, stacks or environment: %w", OutputSettings, ErrOutdated)
	}
	return s, nil
}

// StacksOf returns the stacks of role, in the order given.
func (s Settings) StacksOf(role string) []StackRef {
	var out []StackRef
	for _, st := range s.Stacks {
		if st.Role == role {
			out = append(out, st)
		}
	}
	return out
}
