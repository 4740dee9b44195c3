// Package engine is the CDK construct library of the MRAP engine: one call adds the
// engine's stacks (a regional stack per member Region, the control stack with the
// Multi-Region Access Point, an observer stack per member and witness Region, a decider stack
// per control Region and the AWS Health relays) to a CDK app.
package engine
