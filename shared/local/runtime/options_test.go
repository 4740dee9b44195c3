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
		{name: "a negative Region port base", opts: Options{RegionPortBase: -1}, wantErr: "region port base -1"},
		{name: "a Region port base without room for the Regions", opts: Options{RegionPortBase: 65535}, wantErr: "room for 3 Regions"},
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
