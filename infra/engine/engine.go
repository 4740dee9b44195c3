package engine

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/mrap-engine/mrap/shared/deployment"
)

// Kinds of the engine's stacks, the first argument of Props.StackName.
const (
	StackRegion  = "region"  // a member Region: bucket, replication, alarms, state copy
	StackControl = "control" // the home Region: access point, initial routes, reconciler, dashboard
	StackProbe   = "probe"   // a member Region observing the others
	StackWitness = "witness" // a witness Region: observer and state copy
	StackDecider = "decider" // a control Region: the failover function
	StackRelay   = "relay"   // a backup Region of AWS Health with nothing else
)

// Engine is the whole deployment: one regional stack per member Region; the control stack in
// the home Region deployed after them (the access point needs the buckets); then one probe
// stack per member Region and one witness stack per witness Region (the probers read through
// the access point); then one decider stack per control Region, after every observer (it
// reads their alarms and state copies); and a relay stack in each backup Region of AWS Health
// where nothing else runs. Every stack and construct is exported for additions of one's own
// (alarms, dashboards, grants): each stack is an awscdk.Stack with its Node().
type Engine struct {
	Config    Config // the resolved deployment
	Regional  map[string]*RegionalStack
	Control   *ControlStack
	Probes    map[string]*ProbeStack // every observer: members and witnesses
	Witnesses map[string]*ProbeStack // the witness stacks (also in Probes)
	Deciders  map[string]*DeciderStack
	Relays    map[string]*RelayStack
}

// Stacks returns every stack of the deployment in deploy order.
func (e *Engine) Stacks() []awscdk.Stack {
	cfg := e.Config
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

// New adds the engine's stacks to scope, an App or a Stage, as its children with the
// construct ids Region-{region}, Control, Probe-{region}, Witness-{region},
// Decider-{region} and Relay-{region}. CloudFormation logical ids of some resources (Lambda
// permissions, SQS event source mappings) are derived from these construct paths, so the
// stacks are not nested under a construct of their own: a deployment made by this
// repository's app stays as it is. A second engine in one app goes into a Stage of its own.
//
// Invalid props, a stack name CloudFormation refuses or a missing function binary stop New
// before anything is added. Tags, the permissions boundary and the feature flags the
// constructs rely on are set on the engine's stacks only, not on the rest of the app.
func New(scope constructs.Construct, props *Props) (*Engine, error) {
	if props == nil {
		props = &Props{}
	}
	cfg, err := props.Resolve()
	if err != nil {
		return nil, err
	}
	code := Code{Dir: or(props.AssetDir, "dist")}
	// Every binary first, so a missing one leaves the app without the engine rather than
	// half built.
	if err := code.Check(cfg.Functions()...); err != nil {
		return nil, err
	}
	names, err := stackNames(cfg, props.StackName)
	if err != nil {
		return nil, err
	}
	for k, v := range identityTags(cfg) {
		if _, ok := props.Tags[k]; ok {
			return nil, fmt.Errorf("invalid tags: %s is the engine's own tag (%s=%s: mrapctl --name finds the deployment by it)", k, k, v)
		}
	}
	for _, id := range stackIDs(cfg) {
		if scope.Node().TryFindChild(jsii.String(id)) != nil {
			return nil, fmt.Errorf("%s already holds a construct %s: add a second engine in a Stage of its own", *scope.Node().Path(), id)
		}
	}
	e := &Engine{Config: cfg, Regional: map[string]*RegionalStack{}, Probes: map[string]*ProbeStack{}, Witnesses: map[string]*ProbeStack{},
		Deciders: map[string]*DeciderStack{}, Relays: map[string]*RelayStack{}}
	opts := func(k stackKey) StackOptions {
		return StackOptions{Name: names[k], Tags: props.Tags, PermissionsBoundary: props.PermissionsBoundary}
	}
	if err := e.addStacks(scope, code, opts); err != nil {
		// Not expected after the checks above; leave scope as it was.
		for _, id := range stackIDs(cfg) {
			scope.Node().TryRemoveChild(jsii.String(id))
		}
		return nil, err
	}
	return e, nil
}

// identityTags are the tags that name the deployment (MrapName={name}): every resource
// carries them and Props.Tags cannot change them.
func identityTags(cfg Config) map[string]string {
	return map[string]string{deployment.TagName: cfg.Name}
}

// DefaultTags returns the tags every resource of the engine carries unless Props.Tags gives
// the key another value (an organisation's own Project, say).
func DefaultTags() map[string]string {
	return map[string]string{deployment.TagProject: deployment.TagProjectValue, "ManagedBy": "cdk"}
}

// featureFlags returns the CDK feature flags the constructs rely on, set on every stack so that
// every app builds the same templates whatever its own flags.
func featureFlags() map[string]any {
	return map[string]any{
		// Access logs are delivered under a bucket policy, not the LogDeliveryWrite ACL.
		"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": true,
		// Cross-Region references (private access only) protect their producers.
		"@aws-cdk/core:defaultCrossStackReferences": "strong",
	}
}

// stackNamePattern is what CloudFormation accepts as a stack name.
var stackNamePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,127}$`)

// stackKey identifies one stack of the engine.
type stackKey struct{ kind, region string }

// stackNames returns the CloudFormation name of every stack of cfg, from name (nil: the
// default), or every name CloudFormation would refuse, and names given twice, at once.
func stackNames(cfg Config, name func(kind, region string) string) (map[stackKey]string, error) {
	if name == nil {
		name = cfg.Names().Function
	}
	out := map[stackKey]string{}
	var errs []error
	seen := map[string]stackKey{}
	for _, k := range stackKeys(cfg) {
		n := name(k.kind, k.region)
		if !stackNamePattern.MatchString(n) {
			errs = append(errs, fmt.Errorf("%s stack of %s: CloudFormation wants 1 to 128 letters, digits or hyphens starting with a letter, got %q", k.kind, k.region, n))
		}
		if prev, dup := seen[n]; dup {
			errs = append(errs, fmt.Errorf("%s stack of %s: %q already names the %s stack of %s", k.kind, k.region, n, prev.kind, prev.region))
		}
		seen[n] = k
		out[k] = n
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("invalid stack names: %w", err)
	}
	return out, nil
}

// stackKeys returns every stack of cfg, in deploy order.
func stackKeys(cfg Config) []stackKey {
	var keys []stackKey
	for _, r := range cfg.Regions {
		keys = append(keys, stackKey{StackRegion, r})
	}
	keys = append(keys, stackKey{StackControl, cfg.HomeRegion})
	for _, r := range cfg.Observers() {
		kind := StackProbe
		if cfg.IsWitness(r) {
			kind = StackWitness
		}
		keys = append(keys, stackKey{kind, r})
	}
	for _, r := range cfg.Deciders {
		keys = append(keys, stackKey{StackDecider, r})
	}
	for _, r := range cfg.HealthRegions() {
		if owner(cfg, r) == roleRelay {
			keys = append(keys, stackKey{StackRelay, r})
		}
	}
	return keys
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// stackIDs returns the construct ids of the stacks of cfg.
func stackIDs(cfg Config) []string {
	var out []string
	for _, k := range stackKeys(cfg) {
		out = append(out, stackID(k))
	}
	return out
}

// stackID is the construct id of the stack k.
func stackID(k stackKey) string {
	if k.kind == StackControl {
		return "Control"
	}
	return strings.ToUpper(k.kind[:1]) + k.kind[1:] + "-" + k.region
}

// addStacks adds the stacks of the engine's configuration to scope and attaches the
// configuration's warnings to the control stack.
func (e *Engine) addStacks(scope constructs.Construct, code Code, opts func(stackKey) StackOptions) error {
	cfg := e.Config
	var endpoints []string
	for i, r := range cfg.Regions {
		s, err := NewRegionalStack(scope, "Region-"+r, RegionalStackProps{
			Config: cfg,
			Region: r,
			Code:   code,
			Cidr:   fmt.Sprintf("10.%d.0.0/16", 64+i),
			Stack:  opts(stackKey{StackRegion, r}),
		})
		if err != nil {
			return err
		}
		e.Regional[r] = s
		if s.Private != nil {
			endpoints = append(endpoints, *s.Private.Endpoint.VpcEndpointId())
		}
	}
	control, err := NewControlStack(scope, "Control", ControlStackProps{Config: cfg, Code: code, PrivateEndpoints: endpoints, Stack: opts(stackKey{StackControl, cfg.HomeRegion})})
	if err != nil {
		return err
	}
	for _, r := range cfg.Regions {
		control.AddStackDependency(e.Regional[r].Stack, jsii.String("the access point needs the member buckets"))
	}
	e.Control = control
	for _, w := range cfg.Warnings() {
		awscdk.Annotations_Of(control.Stack).AddWarningV2(jsii.String("mrap:no-witness"), jsii.String(w), nil)
	}
	for _, r := range cfg.Observers() {
		k := stackKey{StackProbe, r}
		if cfg.IsWitness(r) {
			k.kind = StackWitness
		}
		probe, err := NewProbeStack(scope, stackID(k), ProbeStackProps{Config: cfg, Region: r, Code: code, MRAPArn: control.AccessPoint.Arn, Stack: opts(k)})
		if err != nil {
			return err
		}
		probe.AddStackDependency(control.Stack, jsii.String("the prober reads through the access point"))
		e.Probes[r] = probe
		if cfg.IsWitness(r) {
			e.Witnesses[r] = probe
		}
	}
	for _, r := range cfg.Deciders {
		d, err := NewDeciderStack(scope, "Decider-"+r, DeciderStackProps{Config: cfg, Region: r, Code: code, MRAPArn: control.AccessPoint.Arn, Stack: opts(stackKey{StackDecider, r})})
		if err != nil {
			return err
		}
		d.AddStackDependency(control.Stack, jsii.String("the failover function submits the routes of the access point"))
		for _, o := range cfg.Observers() {
			d.AddStackDependency(e.Probes[o].Stack, jsii.String("the failover function reads every observer's health alarms and every state copy"))
		}
		e.Deciders[r] = d
	}
	for _, r := range cfg.HealthRegions() {
		if owner(cfg, r) == roleRelay {
			e.Relays[r] = NewRelayStack(scope, "Relay-"+r, RelayStackProps{Config: cfg, Region: r, Stack: opts(stackKey{StackRelay, r})})
		}
	}
	return addSettingsOutput(e, cfg)
}
