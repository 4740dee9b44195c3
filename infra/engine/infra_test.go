package engine

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// codeDir is a dist directory with a dummy bootstrap per function, so tests do not depend on
// `make build`.
var codeDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "infra-dist-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, fn := range Functions() {
		err := os.MkdirAll(filepath.Join(dir, fn), 0o755)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, fn, "bootstrap"), []byte("#!/bin/sh\n"), 0o755)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	codeDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	jsii.Close()
	os.Exit(code)
}

// built is one synthesized app with cdk-nag AwsSolutions applied.
type built struct {
	cfg    Config
	engine *Engine
	tpl    map[string]assertions.Template // by stack id
	json   map[string]map[string]any      // raw templates, by stack id
	stacks map[string]awscdk.Stack
}

// build synthesizes an app for the given context; callers share results through fixtures.
func build(t testing.TB, context map[string]any) *built {
	t.Helper()
	ctxMap := map[string]interface{}{}
	for k, v := range context {
		ctxMap[k] = v
	}
	// The shared fixtures outlive the test that builds them, so their output does too.
	out, err := os.MkdirTemp(codeDir, "cdk.out-")
	if err != nil {
		t.Fatal(err)
	}
	app := awscdk.NewApp(&awscdk.AppProps{Context: &ctxMap, Outdir: jsii.String(out)})
	e, err := fromContext(app, codeDir)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true), Reports: jsii.Bool(false)}), nil)
	return synthesize(t, app, out, e)
}

// fromContext adds the engine to app as infra/main.go does: Props from the app's context,
// function binaries from dir.
func fromContext(app awscdk.App, dir string) (*Engine, error) {
	p, err := PropsFromContext(ContextOf(app))
	if err != nil {
		return nil, err
	}
	p.AssetDir = dir
	return New(app, &p)
}

// loadConfig resolves context into the configuration as fromContext does, without an app.
func loadConfig(lookup ContextLookup) (Config, error) {
	p, err := PropsFromContext(lookup)
	if err != nil {
		return Config{}, err
	}
	return p.Resolve()
}

// synthesize synthesizes app (into out) and collects the templates of e's stacks.
func synthesize(t testing.TB, app awscdk.App, out string, e *Engine) *built {
	t.Helper()
	b := &built{cfg: e.Config, engine: e, tpl: map[string]assertions.Template{}, json: map[string]map[string]any{}, stacks: map[string]awscdk.Stack{}}
	add := func(s awscdk.Stack) {
		id := *s.Node().Id()
		b.stacks[id] = s
		b.tpl[id] = assertions.Template_FromStack(s, nil)
		b.json[id] = templateMap(t, b.tpl[id])
	}
	// Synthesis must need no lookup: `cdk synth` would then call AWS.
	app.Synth(nil)
	raw, err := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		Missing []struct{ Key string } `json:"missing"`
	}
	if err := json.Unmarshal(raw, &manifest); err != nil {
		t.Fatal(err)
	}
	for _, m := range manifest.Missing {
		t.Errorf("synthesis needs context lookup %s (AWS credentials), want none", m.Key)
	}
	for _, s := range e.Stacks() {
		add(s)
	}
	return b
}

// toJSON is the synthesized template of s as plain JSON values.
func toJSON(t testing.TB, s awscdk.Stack) map[string]any {
	t.Helper()
	return templateMap(t, assertions.Template_FromStack(s, nil))
}

func templateMap(t testing.TB, tpl assertions.Template) map[string]any {
	t.Helper()
	raw, err := json.Marshal(tpl.ToJSON())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

var (
	fullOnce sync.Once
	full     *built
)

// fullApp is the richest configuration, built once: three Regions, the home Region one of
// them, a witness, a decider outside the members, a backup Region of AWS Health with nothing
// else (a relay), active-passive, KMS, private access and batch repair on.
func fullApp(t *testing.T) *built {
	t.Helper()
	fullOnce.Do(func() {
		full = build(t, map[string]any{
			"account":                   "123456789012",
			"regions":                   "eu-west-1,us-east-1,eu-central-1",
			"homeRegion":                "eu-west-1",
			"witnessRegions":            "us-east-2",
			"controlRegions":            "eu-west-1,ap-northeast-1",
			"mode":                      "active-passive",
			"priority":                  "eu-central-1,eu-west-1,us-east-1",
			"kms":                       "true",
			"privateAccess":             "true",
			"replicatePermanentDeletes": "true",
			"unguardedWrites":           "true",
			"batchRepair":               "true",
		})
	})
	if full == nil {
		t.Fatal("the full app did not build")
	}
	return full
}

// must runs an assertion that throws (jsii panics) and reports the throw as a test error.
func must(t *testing.T, what string, assertion func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	assertion()
}

// resources returns the resources of type in a raw template, by logical id.
func resources(tpl map[string]any, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range tpl["Resources"].(map[string]any) {
		res := r.(map[string]any)
		if res["Type"] == typ {
			out[id] = res
		}
	}
	return out
}

func props(r map[string]any) map[string]any {
	p, _ := r["Properties"].(map[string]any)
	return p
}

// policyStatements returns every statement of the IAM policies of a template, by policy id.
func policyStatements(tpl map[string]any) map[string][]map[string]any {
	out := map[string][]map[string]any{}
	for id, r := range resources(tpl, "AWS::IAM::Policy") {
		doc := props(r)["PolicyDocument"].(map[string]any)
		for _, s := range doc["Statement"].([]any) {
			out[id] = append(out[id], s.(map[string]any))
		}
	}
	return out
}

// statementBySid finds a statement of the policy of a role whose logical id starts with prefix.
func statementBySid(t *testing.T, tpl map[string]any, policyPrefix, sid string) map[string]any {
	t.Helper()
	for id, stmts := range policyStatements(tpl) {
		if !strings.HasPrefix(id, policyPrefix) {
			continue
		}
		for _, s := range stmts {
			if s["Sid"] == sid {
				return s
			}
		}
	}
	t.Fatalf("no statement %q in a policy %s*", sid, policyPrefix)
	return nil
}

// strs flattens a string or list of strings (or intrinsic functions, rendered as JSON).
func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, i := range x {
			out = append(out, strs(i)...)
		}
		return out
	default:
		b, _ := json.Marshal(x)
		return []string{string(b)}
	}
}

func asJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
