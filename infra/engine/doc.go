// Package engine is the CDK construct library of the MRAP engine: one call, New, adds the
// engine's stacks (a regional stack per member Region, the control stack with the
// Multi-Region Access Point, an observer stack per member and witness Region, a decider stack
// per control Region and the AWS Health relays) to a CDK app, next to the app's own stacks.
//
// Props are typed, one field per key of the CDK context of this repository's app (cdk.json),
// with the same defaults and validation messages. The constructs read no context:
// PropsFromContext is the one reader of those keys, used by infra/main.go and available to an
// app that wants the same cdk.json and -c overrides. Function code comes from built binaries,
// Props.AssetDir/<fn>/bootstrap (FunctionBuildCommand).
//
// The stacks are children of the scope given, with the construct ids this repository's app
// has always used, so that a deployment it made keeps its CloudFormation logical ids
// (testdata/deployed-*.txt).
package engine
