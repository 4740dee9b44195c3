package engine

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/mrap-engine/mrap/shared/deployment"
)

// addSettingsOutput publishes the deployment's settings on the control stack (output
// deployment.OutputSettings, versioned JSON): its name, home Region, every stack with its
// Region and role, and the failover environment every decider shares, so that
// `mrapctl --name NAME` finds the whole deployment from the control stack.
func addSettingsOutput(e *Engine, cfg Config) error {
	st := deployment.Settings{Version: deployment.SettingsVersion, Name: cfg.Names().Name, Home: cfg.HomeRegion, Env: sharedFailoverEnv(cfg)}
	for _, s := range e.Stacks() {
		st.Stacks = append(st.Stacks, deployment.StackRef{Name: *s.StackName(), Region: *s.Region(), Role: e.role(s)})
	}
	v, err := st.Encode()
	if err != nil {
		return err
	}
	awscdk.NewCfnOutput(e.Control.Stack, jsii.String(deployment.OutputSettings), &awscdk.CfnOutputProps{
		Value:       jsii.String(v),
		Description: jsii.String("Settings of the deployment for mrapctl --name (versioned JSON: stacks, the deciders' shared MRAP_* settings)"),
	})
	return nil
}

// role names the part stack s plays in the deployment.
func (e *Engine) role(s awscdk.Stack) string {
	name := *s.StackName()
	is := func(st awscdk.Stack) bool { return *st.StackName() == name }
	switch {
	case is(e.Control.Stack):
		return deployment.RoleControl
	}
	for _, x := range e.Regional {
		if is(x.Stack) {
			return deployment.RoleRegion
		}
	}
	for _, x := range e.Witnesses {
		if is(x.Stack) {
			return deployment.RoleWitness
		}
	}
	for _, x := range e.Probes {
		if is(x.Stack) {
			return deployment.RoleProbe
		}
	}
	for _, x := range e.Deciders {
		if is(x.Stack) {
			return deployment.RoleDecider
		}
	}
	return deployment.RoleRelay
}
