package events

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func loadEventFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// assertRoundTrip checks that decoding then encoding v loses nothing of the fixture.
func assertRoundTrip(t *testing.T, raw []byte, v any) {
	t.Helper()
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var want, got any
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip changed the event:\n got %s\nwant %s", out, raw)
	}
}

func TestParseAlarmStateChangeFixtures(t *testing.T) {
	tests := []struct {
		file      string
		alarm     string
		region    string
		state     string
		previous  string
		at        time.Time
		composite bool
	}{
		{"alarm-state-alarm.json", "mrap-eu-west-1-canary-availability", "eu-west-1", "ALARM", "OK", time.Date(2026, 11, 25, 17, 4, 40, 989e6, time.UTC), false},
		{"alarm-state-ok.json", "mrap-eu-west-1-canary-availability", "eu-west-1", "OK", "ALARM", time.Date(2026, 11, 25, 17, 20, 40, 112e6, time.UTC), false},
		{"alarm-state-insufficient.json", "mrap-eu-west-1-canary-availability", "eu-west-1", "INSUFFICIENT_DATA", "OK", time.Date(2026, 11, 25, 17, 4, 40, 989e6, time.UTC), false},
		{"alarm-composite-alarm.json", "mrap-us-east-1-health", "us-east-1", "ALARM", "OK", time.Date(2026, 11, 25, 17, 5, 10, 27e6, time.UTC), true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw := loadEventFixture(t, tt.file)
			ev, err := ParseAlarmStateChange(raw)
			if err != nil {
				t.Fatalf("ParseAlarmStateChange: %v", err)
			}
			if ev.Detail.AlarmName != tt.alarm || ev.Region != tt.region || ev.Detail.State.Value != tt.state || ev.Detail.PreviousState.Value != tt.previous {
				t.Errorf("got alarm %q region %q state %q previous %q", ev.Detail.AlarmName, ev.Region, ev.Detail.State.Value, ev.Detail.PreviousState.Value)
			}
			at, err := ev.Detail.State.Time()
			if err != nil || !at.Equal(tt.at) {
				t.Errorf("State.Time() = %v, %v; want %v", at, err, tt.at)
			}
			if got := ev.Detail.Configuration.AlarmRule != ""; got != tt.composite {
				t.Errorf("composite = %v, want %v", got, tt.composite)
			}
			if _, err := ev.Detail.State.ReasonDataMap(); err != nil {
				t.Errorf("ReasonDataMap: %v", err)
			}
			assertRoundTrip(t, raw, ev)
		})
	}
}

func TestAlarmReasonDataDecodes(t *testing.T) {
	ev, err := ParseAlarmStateChange(loadEventFixture(t, "alarm-state-alarm.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := ev.Detail.State.ReasonDataMap()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m["threshold"], 0.9; got != want {
		t.Errorf("reasonData threshold = %v, want %v", got, want)
	}
}

func TestParseAlarmStateChangeRejects(t *testing.T) {
	good := string(loadEventFixture(t, "alarm-state-alarm.json"))
	tests := []struct {
		name, raw, wantErr string
	}{
		{"not json", "{", "decode alarm state change"},
		{"wrong source", strings.Replace(good, `"aws.cloudwatch"`, `"aws.ec2"`, 1), "want source"},
		{"unknown state", strings.Replace(good, `"value": "ALARM"`, `"value": "ON_FIRE"`, 1), "ON_FIRE"},
		{"bad timestamp", strings.Replace(good, `"2026-11-25T17:04:40.989+0000"`, `"yesterday"`, 1), "yesterday"},
		{"no alarm name", strings.Replace(good, `"alarmName": "mrap-eu-west-1-canary-availability"`, `"alarmName": ""`, 1), "alarmName"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAlarmStateChange([]byte(tt.raw))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}
