package runtime

import (
	"strings"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/shared/routing"
)

func TestOptionsDefaultsAndErrors(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string // "" = valid
		check   func(t *testing.T, o Options)
	}{
		{name: "zero value is three Regions, active-active, free ports", opts: Options{}, check: func(t *testing.T, o Options) {
			if strings.Join(o.Regions, ",") != "us-east-1,eu-west-1,ap-southeast-2" || o.Policy.Mode != routing.ActiveActive ||
				o.GlobalAddr != "127.0.0.1:0" || o.AlarmDatapoints != 2 || o.AlarmPeriods != 3 || o.Policy.Cooldown != 30*time.Second {
				t.Errorf("defaults = %+v", o)
			}
		}},
		{name: "proximity lists some Regions, the rest follow", opts: Options{Regions: []string{"us-east-1", "eu-west-1", "ap-southeast-2"}, Proximity: []string{"ap-southeast-2"}},
			check: func(t *testing.T, o Options) {
				if got := strings.Join(o.Proximity, ","); got != "ap-southeast-2,us-east-1,eu-west-1" {
					t.Errorf("proximity = %s", got)
				}
			}},
		{name: "active-passive takes the proximity as priority", opts: Options{Policy: routing.Policy{Mode: routing.ActivePassive}, Proximity: []string{"eu-west-1"}},
			check: func(t *testing.T, o Options) {
				if o.Policy.Priority[0] != "eu-west-1" {
					t.Errorf("priority = %v", o.Policy.Priority)
				}
			}},
		{name: "not a Region", opts: Options{Regions: []string{"us-east-1", "mars"}}, wantErr: `"mars" is not a Region name`},
		{name: "one Region", opts: Options{Regions: []string{"us-east-1"}}, wantErr: "at least two Regions"},
		{name: "Region twice", opts: Options{Regions: []string{"us-east-1", "us-east-1"}}, wantErr: "listed twice"},
		{name: "proximity outside the Regions", opts: Options{Regions: []string{"us-east-1", "eu-west-1"}, Proximity: []string{"us-west-2"}}, wantErr: "proximity Region us-west-2"},
		{name: "deciders default to the first two Regions", opts: Options{}, check: func(t *testing.T, o Options) {
			if got := strings.Join(o.Deciders, ","); got != "us-east-1,eu-west-1" {
				t.Errorf("deciders = %s", got)
			}
		}},
		{name: "decider outside the Regions", opts: Options{Deciders: []string{"us-west-2"}}, wantErr: "decider Region us-west-2 is not one of the Regions"},
		{name: "decider twice", opts: Options{Deciders: []string{"eu-west-1", "eu-west-1"}}, wantErr: "decider Region eu-west-1 is listed twice"},
		{name: "N above M", opts: Options{AlarmDatapoints: 4, AlarmPeriods: 3}, wantErr: "exceed the evaluation periods"},
		{name: "bad mode", opts: Options{Policy: routing.Policy{Mode: "round-robin"}}, wantErr: "round-robin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			err := o.defaults()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("defaults() = %v", err)
				}
				tt.check(t, o)
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("defaults() = %v, want an error mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestAlarmNameIsAsOnAWS(t *testing.T) {
	if got, want := AlarmName("eu-west-1", "us-east-1"), "mrap-local-eu-west-1-from-us-east-1-availability"; got != want {
		t.Errorf("AlarmName = %q, want %q", got, want)
	}
}

func TestQuorumOfObservers(t *testing.T) {
	regions := []string{"a", "b", "c"}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	obs := func(o, tg string, s routing.State, at int) observation {
		return observation{Observer: o, Target: tg, State: s, Since: t0.Add(time.Duration(at) * time.Second)}
	}
	tests := []struct {
		name       string
		matrix     []observation
		unreadable map[string]string
		want       routing.State
		wantSince  int
	}{
		{name: "every observer ALARM", matrix: []observation{obs("b", "a", routing.Alarm, 3), obs("c", "a", routing.Alarm, 5)}, want: routing.Alarm, wantSince: 5},
		{name: "one ALARM of two observers is no majority", matrix: []observation{obs("b", "a", routing.Alarm, 3), obs("c", "a", routing.OK, 1)}, want: routing.OK, wantSince: 1},
		{name: "one ALARM and one unreadable is no majority of all observers", matrix: []observation{obs("b", "a", routing.Alarm, 3)}, unreadable: map[string]string{"c": "c is out"}, want: routing.InsufficientData},
		{name: "the target's own opinion of itself does not count", matrix: []observation{obs("a", "a", routing.OK, 1), obs("b", "a", routing.Alarm, 2), obs("c", "a", routing.Alarm, 4)}, want: routing.Alarm, wantSince: 4},
		{name: "no votes", matrix: []observation{obs("b", "a", routing.InsufficientData, 1)}, unreadable: map[string]string{"c": "cut"}, want: routing.InsufficientData},
		{name: "OK since the latest OK vote", matrix: []observation{obs("b", "a", routing.OK, 7), obs("c", "a", routing.OK, 2)}, want: routing.OK, wantSince: 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := quorum(regions, tt.matrix, tt.unreadable)["a"]
			if h.State != tt.want {
				t.Fatalf("state = %s (%s), want %s", h.State, h.Detail, tt.want)
			}
			if tt.want != routing.InsufficientData && !h.Since.Equal(t0.Add(time.Duration(tt.wantSince)*time.Second)) {
				t.Errorf("since = %s, want +%ds", h.Since, tt.wantSince)
			}
		})
	}
}
