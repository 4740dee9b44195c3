package config

import (
	"strings"
	"testing"
	"time"
)

func TestEnvTypedValues(t *testing.T) {
	env := FromMap(map[string]string{
		"S": " hello ", "B": "true", "I": "42", "D": "90s",
		"L": "a, b,,c", "M": "us-east-1=b1, eu-west-1=b2",
	})
	if got := env.String("S", "x"); got != "hello" {
		t.Errorf("String = %q, want hello", got)
	}
	if got := env.String("UNSET", "x"); got != "x" {
		t.Errorf("String default = %q, want x", got)
	}
	if got := env.Bool("B", false); !got {
		t.Errorf("Bool = false, want true")
	}
	if got := env.Int64("I", 0); got != 42 {
		t.Errorf("Int64 = %d, want 42", got)
	}
	if got := env.Duration("D", 0); got != 90*time.Second {
		t.Errorf("Duration = %v, want 90s", got)
	}
	if got := strings.Join(env.List("L", nil), "|"); got != "a|b|c" {
		t.Errorf("List = %q, want a|b|c", got)
	}
	members := env.Members("M")
	if len(members) != 2 || members[0] != (Member{"us-east-1", "b1"}) || members[1] != (Member{"eu-west-1", "b2"}) {
		t.Errorf("Members = %v", members)
	}
	if err := env.Err(); err != nil {
		t.Fatalf("Err = %v, want nil", err)
	}
}

func TestEnvCollectsEveryProblem(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		read func(*Env)
		want string
	}{
		{"missing required", nil, func(e *Env) { e.Required("X") }, "X: is required"},
		{"bad bool", map[string]string{"X": "yes please"}, func(e *Env) { e.Bool("X", false) }, "want true or false"},
		{"negative int", map[string]string{"X": "-1"}, func(e *Env) { e.Int64("X", 0) }, "non-negative integer"},
		{"bad duration", map[string]string{"X": "5 minutes"}, func(e *Env) { e.Duration("X", 0) }, "want a duration"},
		{"pair without value", map[string]string{"X": "a=1,b"}, func(e *Env) { e.Map("X") }, "key=value"},
		{"duplicate key", map[string]string{"X": "a=1,a=2"}, func(e *Env) { e.Map("X") }, `"a" appears twice`},
		{"one member", map[string]string{"X": "us-east-1=b"}, func(e *Env) { e.Members("X") }, "at least two"},
		{"bad region", map[string]string{"X": "mars=b,us-east-1=c"}, func(e *Env) { e.Members("X") }, `"mars" is not a Region`},
		{"duplicate region", map[string]string{"X": "us-east-1=b,us-east-1=c"}, func(e *Env) { e.Members("X") }, "appears twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := FromMap(tt.env)
			tt.read(env)
			err := env.Err()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
