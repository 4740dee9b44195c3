package main

import (
	"context"
	"os/exec"
	"strings"
	"time"
)

// awsCLINote checks the `aws` on PATH, which the start-up summary's examples use: they need
// AWS CLI v2. It returns a line to print when that is not what is there, else "".
func awsCLINote(ctx context.Context) string {
	path, err := exec.LookPath("aws")
	if err != nil {
		return "note: no `aws` on PATH; the aws examples need AWS CLI v2 (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html)"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").CombinedOutput()
	if err != nil {
		return "note: `" + path + " --version` failed; the aws examples need AWS CLI v2"
	}
	return awsCLIVersionNote(path, string(out))
}

// awsCLIVersionNote judges the output of `aws --version` (like "aws-cli/2.15.0 Python/3.11 ...").
func awsCLIVersionNote(path, version string) string {
	v := strings.TrimSpace(version)
	switch {
	case strings.HasPrefix(v, "aws-cli/2."):
		return ""
	case strings.HasPrefix(v, "aws-cli/1."):
		first, _, _ := strings.Cut(v, " ")
		return "note: " + path + " is AWS CLI v1 (" + first + "); the aws examples are written for and tested with AWS CLI v2, install it: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html"
	default:
		return "note: cannot tell the version of " + path + " (" + v + "); the aws examples need AWS CLI v2"
	}
}
