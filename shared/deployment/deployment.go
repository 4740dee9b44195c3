package deployment

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// The kinds of discovery failure; the error's message says which stack, Region and step.
var (
	// ErrStackNotFound: a stack of the deployment does not exist where it should.
	ErrStackNotFound = errors.New("stack not found")
	// ErrNotBootstrapped: the Region has no CDK bootstrap stack (CDKToolkit).
	ErrNotBootstrapped = errors.New("region not bootstrapped")
	// ErrOutdated: the stacks were deployed by an older version of the engine (an output is
	// missing or of an older version).
	ErrOutdated = errors.New("deployed by an older version of the engine: redeploy with cdk deploy")
	// ErrStackFailed: a stack is in a state whose outputs cannot be used (ROLLBACK_COMPLETE ...).
	ErrStackFailed = errors.New("stack not usable")
)

// Stack is one stack as found: its reference, CloudFormation status ("" when read from an
// outputs file) and outputs by key.
type Stack struct {
	StackRef
	Status  string            `json:"status,omitempty"`
	Outputs map[string]string `json:"outputs"`
}

// Deployment is an engine deployment as found: its settings, the access point and every
// stack with its outputs.
type Deployment struct {
	Settings       Settings `json:"settings"`
	AccessPointARN string   `json:"accessPointArn"`
	Stacks         []Stack  `json:"stacks"`
	// Source says where it was found: "CloudFormation in us-east-1" or "outputs file F".
	Source string `json:"source"`
}

// Queue is a member Region's replication queue and dead-letter queue (ARNs).
type Queue struct {
	Region     string
	QueueARN   string
	DeadLetter string
}

// Deciders are the decider Regions in primary order (MRAP_DECIDERS).
func (d Deployment) Deciders() []string { return splitList(d.Settings.Env["MRAP_DECIDERS"]) }

// Env is the failover function environment of decider (one of Deciders): the shared
// settings, the access point and the decider's audit topic. It feeds the same loader as the
// function (failover.LoadConfig).
func (d Deployment) Env(decider string) map[string]string {
	env := maps.Clone(d.Settings.Env)
	env["MRAP_ARN"] = d.AccessPointARN
	env["MRAP_DECIDER"] = decider
	for _, s := range d.Stacks {
		if s.Role == RoleDecider && s.Region == decider {
			env["MRAP_AUDIT_TOPIC_ARN"] = s.Outputs[OutputAuditTopicArn]
		}
	}
	return env
}

// Queues are the replication queues of the member Regions, in stack order.
func (d Deployment) Queues() []Queue {
	var out []Queue
	for _, s := range d.Stacks {
		if s.Role == RoleRegion {
			out = append(out, Queue{Region: s.Region, QueueARN: s.Outputs[OutputQueueArn], DeadLetter: s.Outputs[OutputDeadLetterQueueArn]})
		}
	}
	return out
}

// requiredOutputs are the outputs the tools read from each role's stack.
var requiredOutputs = map[string][]string{
	RoleControl: {OutputSettings, OutputAccessPointArn},
	RoleRegion:  {OutputQueueArn, OutputDeadLetterQueueArn},
	RoleDecider: {OutputAuditTopicArn},
}

// checkOutputs reports the outputs s lacks for its role.
func checkOutputs(s Stack) error {
	var missing []string
	for _, k := range requiredOutputs[s.Role] {
		if s.Outputs[k] == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("stack %s in %s has no output %s: %w", s.Name, s.Region, strings.Join(missing, ", "), ErrOutdated)
}

// fromControl builds the deployment from its control stack: the settings and the access point.
func fromControl(control Stack) (Deployment, error) {
	if err := checkOutputs(control); err != nil {
		return Deployment{}, err
	}
	st, err := ParseSettings(control.Outputs[OutputSettings])
	if err != nil {
		return Deployment{}, fmt.Errorf("stack %s in %s: %w", control.Name, control.Region, err)
	}
	return Deployment{Settings: st, AccessPointARN: control.Outputs[OutputAccessPointArn]}, nil
}

func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// names lists the stack names of refs, for messages.
func names(refs []StackRef) []string {
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		out = append(out, r.Name+" ("+r.Region+")")
	}
	return slices.Sorted(slices.Values(out))
}
