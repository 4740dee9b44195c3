package engine

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/mrap-engine/mrap/shared/config"
	"github.com/mrap-engine/mrap/shared/deployment"
	"github.com/mrap-engine/mrap/shared/failover"
)

// TestSettingsOutputFindsTheWholeDeployment writes the synthesized outputs of the stacks as
// `cdk deploy --outputs-file` would (keyed by stack name, stacks without outputs left out) (deploy-time values resolved), finds the deployment in it
// as mrapctl does and loads each decider's configuration from it with the failover
// function's loader: it is the configuration the function loads from its own environment.
func TestSettingsOutputFindsTheWholeDeployment(t *testing.T) {
	for name, b := range apps(t) {
		t.Run(name, func(t *testing.T) {
			dep := discoverSynthesized(t, b)
			if dep.Settings.Version != deployment.SettingsVersion || dep.Settings.Home != b.cfg.HomeRegion || len(dep.Settings.Stacks) != len(b.engine.Stacks()) {
				t.Fatalf("settings %+v", dep.Settings)
			}
			// No documented limit on an output value was found; stay under the 4,096 bytes
			// CloudFormation allows a parameter value and a description.
			v, _ := dep.Settings.Encode()
			t.Logf("EngineSettings: %d bytes", len(v))
			if len(v) > 4096 {
				t.Errorf("EngineSettings is %d bytes, more than 4,096", len(v))
			}
			if n := len(dep.Queues()); n != len(b.cfg.Regions) {
				t.Errorf("%d replication queues, want one per member (%d)", n, len(b.cfg.Regions))
			}
			for _, d := range b.cfg.Deciders {
				got := loadFailover(t, dep.Env(d), d)
				want := loadFailover(t, deciderEnv(t, b, d), d)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("decider %s: discovered configuration\n%+v\nwant the function's\n%+v", d, got, want)
				}
			}
		})
	}
}

// discoverSynthesized renders the templates' outputs as an outputs file and reads it back.
func discoverSynthesized(t *testing.T, b *built) deployment.Deployment {
	t.Helper()
	file := map[string]map[string]string{}
	for _, s := range b.engine.Stacks() {
		outs := map[string]string{}
		raw, _ := b.json[*s.Node().Id()]["Outputs"].(map[string]any)
		for key, o := range raw {
			outs[key] = resolveOutput(b, *s.Region(), key, o.(map[string]any)["Value"])
		}
		if len(outs) > 0 { // the CDK CLI writes only stacks with outputs
			file[*s.StackName()] = outs
		}
	}
	raw, _ := json.Marshal(file)
	path := filepath.Join(t.TempDir(), "cdk-outputs.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	dep, err := deployment.FromOutputsFile(path, "mrap-engine")
	if err != nil {
		t.Fatal(err)
	}
	return dep
}

// resolveOutput is an output's value as CloudFormation resolves it: the access point ARN and
// audit topics as the failover environment test resolves them, other deploy-time values a
// placeholder.
func resolveOutput(b *built, region, key string, v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	switch key {
	case deployment.OutputAccessPointArn:
		return "arn:aws:s3::" + b.cfg.Account + ":accesspoint/abcdef.mrap"
	case deployment.OutputAuditTopicArn:
		return "arn:aws:sns:" + region + ":" + b.cfg.Account + ":mrap-engine-audit"
	}
	return "resolved-" + key + "-" + region
}

// deciderEnv is decider d's failover function environment from its template, resolved.
func deciderEnv(t *testing.T, b *built, d string) map[string]string {
	t.Helper()
	out := map[string]string{
		"MRAP_ARN":             "arn:aws:s3::" + b.cfg.Account + ":accesspoint/abcdef.mrap",
		"MRAP_AUDIT_TOPIC_ARN": "arn:aws:sns:" + d + ":" + b.cfg.Account + ":mrap-engine-audit",
	}
	for _, fn := range resources(b.json["Decider-"+d], "AWS::Lambda::Function") {
		if props(fn)["FunctionName"] != "mrap-engine-failover-"+d {
			continue
		}
		for k, v := range props(fn)["Environment"].(map[string]any)["Variables"].(map[string]any) {
			if s, ok := v.(string); ok {
				out[k] = s
			}
		}
		return out
	}
	t.Fatalf("no failover function in Decider-%s", d)
	return nil
}

func loadFailover(t *testing.T, env map[string]string, decider string) failover.Config {
	t.Helper()
	e := config.FromMap(env)
	c := failover.LoadConfig(e, decider)
	if err := e.Err(); err != nil {
		t.Fatalf("loader refuses %v: %v", env, err)
	}
	return c
}

// TestStacksCarryTheDiscoveryTags: mrapctl finds a control stack of another name by its stack
// tags (the ones cdk deploy sets on the stack, not only on its resources).
func TestStacksCarryTheDiscoveryTags(t *testing.T) {
	b := fullApp(t)
	for _, s := range b.engine.Stacks() {
		tags := *s.Tags().TagValues()
		if v := tags[deployment.TagProject]; v == nil || *v != deployment.TagProjectValue {
			t.Errorf("stack %s: tag %s = %v", *s.StackName(), deployment.TagProject, v)
		}
		if v := tags[deployment.TagName]; v == nil || *v != b.cfg.Names().Name {
			t.Errorf("stack %s: tag %s = %v", *s.StackName(), deployment.TagName, v)
		}
	}
}
