package main

import (
	"strings"
	"testing"
)

func TestAWSCLIVersionNote(t *testing.T) {
	tests := []struct {
		name, version, want string // want "" = no note
	}{
		{"v2 needs no note", "aws-cli/2.15.30 Python/3.11.8 Linux/6.1 exe/x86_64.debian.12\n", ""},
		{"v1 is named, with the version", "aws-cli/1.29.0 Python/3.11.2 Linux/6.1 botocore/1.31.0\n", "is AWS CLI v1 (aws-cli/1.29.0)"},
		{"something else is not taken for v2", "hello\n", "cannot tell the version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := awsCLIVersionNote("/usr/bin/aws", tt.version)
			if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
				t.Errorf("note = %q, want %q", got, tt.want)
			}
		})
	}
}
