package alarmeval_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/events"
	"github.com/mrap-engine/mrap/shared/local/alarmeval"
)

func TestNOutOfM(t *testing.T) {
	tests := []struct {
		name   string
		points []float64
		want   []string // state after each point ("" = no change event)
	}{
		{"healthy after M datapoints", []float64{1, 1, 1}, []string{"", "", "OK"}},
		{"N breaching alarm before M are in", []float64{0, 0}, []string{"", "ALARM"}},
		{"one bad datapoint is not enough", []float64{1, 1, 1, 0, 1, 1}, []string{"", "", "OK", "", "", ""}},
		{"two of three alarm, fewer than two recover", []float64{1, 1, 1, 0, 1, 0, 1, 1, 1}, []string{"", "", "OK", "", "", "ALARM", "OK", "", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := alarmeval.New(alarmeval.Config{Name: "mrap-us-east-1-canary", Region: "us-east-1", AccountID: "123456789012",
				Metric: "CanaryAvailability", Threshold: 1, Comparison: alarmeval.LessThanThreshold, DatapointsToAlarm: 2, EvaluationPeriods: 3})
			if err != nil {
				t.Fatal(err)
			}
			now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
			for i, p := range tt.points {
				now = now.Add(time.Second)
				ev := a.Observe(p, now)
				got := ""
				if ev != nil {
					got = ev.Detail.State.Value
				}
				if got != tt.want[i] {
					t.Fatalf("after point %d (%v): change = %q, want %q", i, p, got, tt.want[i])
				}
			}
		})
	}
}

func TestEventIsAValidAlarmStateChange(t *testing.T) {
	a, err := alarmeval.New(alarmeval.Config{Name: "mrap-eu-west-1-canary", Region: "eu-west-1", AccountID: "123456789012",
		Metric: "CanaryAvailability", Threshold: 1, Comparison: alarmeval.LessThanThreshold, DatapointsToAlarm: 1, EvaluationPeriods: 1})
	if err != nil {
		t.Fatal(err)
	}
	ev := a.Observe(0, time.Now())
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	got, err := events.ParseAlarmStateChange(raw)
	if err != nil {
		t.Fatalf("ParseAlarmStateChange: %v\n%s", err, raw)
	}
	if got.Detail.State.Value != "ALARM" || got.Detail.PreviousState.Value != "INSUFFICIENT_DATA" || got.Region != "eu-west-1" ||
		!strings.HasSuffix(got.Resources[0], ":alarm:mrap-eu-west-1-canary") {
		t.Errorf("event = %s", raw)
	}
	if _, err := got.Detail.State.ReasonDataMap(); err != nil {
		t.Errorf("reasonData: %v", err)
	}
}

func TestRejectsBadConfig(t *testing.T) {
	if _, err := alarmeval.New(alarmeval.Config{Name: "x", Comparison: alarmeval.LessThanThreshold, DatapointsToAlarm: 3, EvaluationPeriods: 2}); err == nil {
		t.Error("N > M accepted")
	}
}
