package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Engine is the whole deployment: one regional stack per member Region, the control stack in
// the home Region deployed after them (the access point needs the buckets), and one probe
// stack per member Region deployed last (the prober reads through the access point).
type Engine struct {
	Regional map[string]*RegionalStack
	Control  *ControlStack
	Probes   map[string]*ProbeStack
}

// NewEngine adds the engine's stacks to scope (an App) and tags everything it creates.
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

	e := &Engine{Regional: map[string]*RegionalStack{}, Probes: map[string]*ProbeStack{}}
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
	for _, r := range cfg.Regions {
		probe, err := NewProbeStack(scope, "Probe-"+r, ProbeStackProps{Config: cfg, Region: r, Code: code, MRAPArn: control.AccessPoint.Arn})
		if err != nil {
			return nil, err
		}
		probe.AddStackDependency(control.Stack, jsii.String("the prober reads through the access point"))
		e.Probes[r] = probe
	}
	return e, nil
}
