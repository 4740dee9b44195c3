package engine

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Engine is the whole deployment: one regional stack per member Region; the control stack in
// the home Region deployed after them (the access point needs the buckets); then one probe
// stack per member Region and one witness stack per witness Region (the probers read through
// the access point); then one decider stack per control Region, after every observer (it
// reads their alarms and state copies); and a relay stack in each backup Region of AWS Health
// where nothing else runs.
type Engine struct {
	Regional  map[string]*RegionalStack
	Control   *ControlStack
	Probes    map[string]*ProbeStack // every observer: members and witnesses
	Witnesses map[string]*ProbeStack // the witness stacks (also in Probes)
	Deciders  map[string]*DeciderStack
	Relays    map[string]*RelayStack
}

// Stacks returns every stack of the deployment in deploy order.
func (e *Engine) Stacks(cfg Config) []awscdk.Stack {
	var out []awscdk.Stack
	for _, r := range cfg.Regions {
		out = append(out, e.Regional[r].Stack)
	}
	out = append(out, e.Control.Stack)
	for _, r := range cfg.Observers() {
		out = append(out, e.Probes[r].Stack)
	}
	for _, r := range cfg.Deciders {
		out = append(out, e.Deciders[r].Stack)
	}
	for _, r := range cfg.HealthRegions() {
		if s, ok := e.Relays[r]; ok {
			out = append(out, s.Stack)
		}
	}
	return out
}

// NewEngine adds the engine's stacks to scope (an App), tags everything it creates and
// attaches the configuration's warnings to the control stack.
func NewEngine(scope constructs.Construct, cfg Config, code Code) (*Engine, error) {
	// Every binary first, so a missing one leaves the app empty rather than half built.
	if err := code.Check(cfg.Functions()...); err != nil {
		return nil, err
	}
	n := cfg.Names()
	tags := awscdk.Tags_Of(scope)
	tags.Add(jsii.String("Project"), jsii.String("mrap-engine"), nil)
	tags.Add(jsii.String("MrapName"), jsii.String(n.Name), nil)
	tags.Add(jsii.String("ManagedBy"), jsii.String("cdk"), nil)

	e := &Engine{Regional: map[string]*RegionalStack{}, Probes: map[string]*ProbeStack{}, Witnesses: map[string]*ProbeStack{},
		Deciders: map[string]*DeciderStack{}, Relays: map[string]*RelayStack{}}
	var endpoints []string
	for i, r := range cfg.Regions {
		s, err := NewRegionalStack(scope, "Region-"+r, RegionalStackProps{
			Config: cfg,
			Region: r,
			Code:   code,
			Cidr:   fmt.Sprintf("10.%d.0.0/16", 64+i),
		})
		if err != nil {
			return nil, err
		}
		e.Regional[r] = s
		if s.Private != nil {
			endpoints = append(endpoints, *s.Private.Endpoint.VpcEndpointId())
		}
	}
	control, err := NewControlStack(scope, "Control", ControlStackProps{Config: cfg, Code: code, PrivateEndpoints: endpoints})
	if err != nil {
		return nil, err
	}
	for _, r := range cfg.Regions {
		control.AddStackDependency(e.Regional[r].Stack, jsii.String("the access point needs the member buckets"))
	}
	e.Control = control
	for _, w := range cfg.Warnings() {
		awscdk.Annotations_Of(control.Stack).AddWarningV2(jsii.String("mrap:no-witness"), jsii.String(w), nil)
	}
	for _, r := range cfg.Observers() {
		id := "Probe-" + r
		if cfg.IsWitness(r) {
			id = "Witness-" + r
		}
		probe, err := NewProbeStack(scope, id, ProbeStackProps{Config: cfg, Region: r, Code: code, MRAPArn: control.AccessPoint.Arn})
		if err != nil {
			return nil, err
		}
		probe.AddStackDependency(control.Stack, jsii.String("the prober reads through the access point"))
		e.Probes[r] = probe
		if cfg.IsWitness(r) {
			e.Witnesses[r] = probe
		}
	}
	for _, r := range cfg.Deciders {
		d, err := NewDeciderStack(scope, "Decider-"+r, DeciderStackProps{Config: cfg, Region: r, Code: code, MRAPArn: control.AccessPoint.Arn})
		if err != nil {
			return nil, err
		}
		d.AddStackDependency(control.Stack, jsii.String("the failover function submits the routes of the access point"))
		for _, o := range cfg.Observers() {
			d.AddStackDependency(e.Probes[o].Stack, jsii.String("the failover function reads every observer's health alarms and every state copy"))
		}
		e.Deciders[r] = d
	}
	for _, r := range cfg.HealthRegions() {
		if owner(cfg, r) == roleRelay {
			e.Relays[r] = NewRelayStack(scope, "Relay-"+r, cfg, r)
		}
	}
	if err := addSettingsOutput(e, cfg); err != nil {
		return nil, err
	}
	return e, nil
}
