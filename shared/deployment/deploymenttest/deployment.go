package deploymenttest

import (
	"fmt"

	"github.com/mrap-engine/mrap/shared/deployment"
)

// Settings returns the settings of a deployment named name with members and deciders (home
// = the first decider) and one witness, in the shape infra publishes them.
func Settings(name, account string, members, deciders []string, witness string) deployment.Settings {
	home := deciders[0]
	s := deployment.Settings{Version: deployment.SettingsVersion, Name: name, Home: home, Env: map[string]string{}}
	add := func(role, region string) {
		s.Stacks = append(s.Stacks, deployment.StackRef{Name: fmt.Sprintf("%s-%s-%s", name, role, region), Region: region, Role: role})
	}
	var membersEnv, copies string
	for _, m := range members {
		add(deployment.RoleRegion, m)
		membersEnv += fmt.Sprintf(",%s=%s-%s-%s", m, name, account, m)
		copies += fmt.Sprintf(",%s=%s-state-%s-%s", m, name, account, m)
	}
	add(deployment.RoleControl, home)
	for _, m := range members {
		add(deployment.RoleProbe, m)
	}
	add(deployment.RoleWitness, witness)
	copies += fmt.Sprintf(",%s=%s-state-%s-%s", witness, name, account, witness)
	deciderList := ""
	for _, d := range deciders {
		add(deployment.RoleDecider, d)
		deciderList += "," + d
	}
	s.Env = map[string]string{
		"MRAP_MEMBERS": membersEnv[1:], "MRAP_DECIDERS": deciderList[1:], "MRAP_STATE_COPIES": copies[1:],
		"MRAP_STATE_PREFIX": ".mrap-state/failover/", "MRAP_LEASE_TTL": "3m0s", "MRAP_VIEW_BOUND": "30s", "MRAP_MAX_SKEW": "5s",
		"MRAP_ACCOUNT_ID": account, "MRAP_ROUTING_MODE": "active-active", "MRAP_PRIORITY": "", "MRAP_MIN_ACTIVE": "1",
		"MRAP_COOLDOWN": "5m0s", "MRAP_FAILBACK": "false", "MRAP_FAILBACK_WINDOW": "15m0s", "MRAP_INSUFFICIENT_DATA": "ignore",
		"MRAP_ALARM_PREFIX": name + "-health-", "MRAP_DRY_RUN": "false", "MRAP_METRIC_NAMESPACE": "MRAPEngine", "MRAP_WITNESSES": witness,
	}
	return s
}

// Put adds every stack of s to c, with the outputs and tags infra gives them, and a
// CDKToolkit stack in each of their Regions.
func Put(c *CloudFormation, s deployment.Settings, accessPointARN string) {
	for _, ref := range s.Stacks {
		c.Put(ref.Region, Stack{Name: deployment.ToolkitStack})
		c.Put(ref.Region, Stack{Name: ref.Name, Outputs: Outputs(s, ref, accessPointARN, c.Account),
			Tags: map[string]string{deployment.TagProject: deployment.TagProjectValue, deployment.TagName: s.Name, "ManagedBy": "cdk"}})
	}
}

// Outputs are the outputs infra gives the stack ref of s.
func Outputs(s deployment.Settings, ref deployment.StackRef, accessPointARN, account string) map[string]string {
	switch ref.Role {
	case deployment.RoleControl:
		v, _ := s.Encode()
		return map[string]string{deployment.OutputSettings: v, deployment.OutputAccessPointArn: accessPointARN, "AlarmPrefix": s.Name + "-health-"}
	case deployment.RoleRegion:
		return map[string]string{
			deployment.OutputQueueArn:           fmt.Sprintf("arn:aws:sqs:%s:%s:%s-replication-%s", ref.Region, account, s.Name, ref.Region),
			deployment.OutputDeadLetterQueueArn: fmt.Sprintf("arn:aws:sqs:%s:%s:%s-replication-dlq-%s", ref.Region, account, s.Name, ref.Region),
			"Bucket":                            fmt.Sprintf("%s-%s-%s", s.Name, account, ref.Region),
		}
	case deployment.RoleDecider:
		return map[string]string{deployment.OutputAuditTopicArn: fmt.Sprintf("arn:aws:sns:%s:%s:%s-audit", ref.Region, account, s.Name)}
	}
	return map[string]string{}
}
