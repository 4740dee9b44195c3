// Command mrapctl runs the engine on one machine and operates it: `mrapctl up` starts the
// local multi-Region runtime, the other commands inspect it, move traffic, inject faults and
// run a failover drill. status, failover, failback, drain, reconcile and redrive also work
// against a deployment on AWS, found by --name (CloudFormation) or --outputs (a cdk outputs
// file).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `mrapctl: run and operate the S3 Multi-Region Access Point engine.

Local runtime (no AWS account needed):
  mrapctl up       [--data DIR] [--regions r1,r2,...]   start everything, in the foreground until Ctrl-C
  mrapctl status   [--data DIR] [--json] [--watch 1s]   routes, health, replication backlog and latency
  mrapctl fault    REGION down|errors|slow|outage|isolate|up  make a Region fail (local only)
  mrapctl drill    [--data DIR] [--region R] [--fault F]  scripted game day; exits 1 if a step misses its bound

Traffic (same safety rules as the failover function):
  mrapctl failover --to REGION [--wait 30s]  send all traffic to REGION until a failback
  mrapctl failback [--wait 30s]   clear manual overrides, return to what the policy says
                                  (both first wait for the Regions they add to be healthy)
  mrapctl drain    REGION         take REGION out of routing until a failback

Repair:
  mrapctl reconcile [--data DIR | --aws]    compare the buckets and copy what replication missed
  mrapctl redrive   [--data DIR | --dlq-arn]  replay dead-lettered replication events

These act on the local runtime in --data (default .local). To act on a deployment on AWS,
name it (status, failover, failback, drain, reconcile, redrive):
  mrapctl --name mrap-engine --region us-east-1 status     the stacks found through CloudFormation
  mrapctl --outputs cdk-outputs.json status               or in the file of cdk deploy --outputs-file
  --name     the deployment (CDK context name; its stacks are tagged MrapName=NAME)
  --region   the home Region, where the control stack is (default AWS_REGION or the profile's)
  --profile  a named profile (default AWS_PROFILE); credentials come from the SDK's default chain
On AWS failover, failback and drain put one command event (a fresh commandId) on the
default bus of every decider Region and wait (--outcome-timeout, default 60s) for a decider
to record its outcome in the state copies; exit 1 on a refusal or when none does.
--dry-run decides in-process, read-only, as one decider would (--decider) and sends nothing.
--mrap-arn ARN instead takes the failover function's MRAP_* settings from the environment.

Run 'mrapctl COMMAND -h' for the flags of a command.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	var ec exitCode
	switch {
	case err == nil:
	case errors.As(err, &ec):
		os.Exit(int(ec))
	case errors.Is(err, flag.ErrHelp): // -h: the usage was printed
		os.Exit(0)
	default:
		fmt.Fprintln(os.Stderr, "mrapctl:", err)
		os.Exit(1)
	}
}

// exitCode ends the program with a status and no further message.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return exitCode(2)
		}
		return nil
	}
	cmd, rest := args[0], args[1:]
	if c, r, ok := hoist(args); ok {
		cmd, rest = c, r
	}
	switch cmd {
	case "up":
		return cmdUp(ctx, rest, stdout, stderr)
	case "status":
		return cmdStatus(ctx, rest, stdout, stderr)
	case "fault":
		return cmdFault(ctx, rest, stdout, stderr)
	case "failover", "failback", "drain":
		return cmdRouting(ctx, cmd, rest, stdout, stderr)
	case "drill":
		return cmdDrill(ctx, rest, stdout, stderr)
	case "reconcile":
		return cmdReconcile(ctx, rest, stdout, stderr)
	case "redrive":
		return cmdRedrive(ctx, rest, stdout, stderr)
	}
	fmt.Fprintf(stderr, "mrapctl: unknown command %q\n\n%s", cmd, usage)
	return exitCode(2)
}

// newFlags returns a flag set that prints its usage to stderr with a one-line synopsis.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("mrapctl "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: mrapctl %s\n\nflags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags that may come before or after positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
