package health

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/mrap-engine/mrap/shared/routing"
)

var t0 = time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC)

// pagedAlarms is a recording fake of DescribeAlarms serving fixed pages.
type pagedAlarms struct {
	pages []*cloudwatch.DescribeAlarmsOutput
	err   error
	calls []*cloudwatch.DescribeAlarmsInput
}

func (f *pagedAlarms) DescribeAlarms(_ context.Context, in *cloudwatch.DescribeAlarmsInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error) {
	f.calls = append(f.calls, in)
	if f.err != nil {
		return nil, f.err
	}
	i := 0
	if in.NextToken != nil {
		i = int(aws.ToString(in.NextToken)[0] - '0')
	}
	out := *f.pages[i]
	if i+1 < len(f.pages) {
		out.NextToken = aws.String(string(rune('0' + i + 1)))
	}
	return &out, nil
}

func metricAlarm(name string, s types.StateValue, at time.Time) types.MetricAlarm {
	return types.MetricAlarm{AlarmName: aws.String(name), StateValue: s, StateUpdatedTimestamp: aws.Time(at)}
}

func TestAlarmReaderReadsEveryRegionWithItsPrefix(t *testing.T) {
	use1 := &pagedAlarms{pages: []*cloudwatch.DescribeAlarmsOutput{
		{MetricAlarms: []types.MetricAlarm{metricAlarm("mrap-us-east-1-availability", types.StateValueOk, t0.Add(-time.Hour))}},
		{MetricAlarms: []types.MetricAlarm{metricAlarm("mrap-us-east-1-latency", types.StateValueAlarm, t0.Add(-2*time.Minute))},
			CompositeAlarms: []types.CompositeAlarm{{AlarmName: aws.String("mrap-us-east-1-health"), StateValue: types.StateValueAlarm, StateUpdatedTimestamp: aws.Time(t0.Add(-time.Minute))}}},
	}}
	euw1 := &pagedAlarms{pages: []*cloudwatch.DescribeAlarmsOutput{
		{MetricAlarms: []types.MetricAlarm{metricAlarm("mrap-eu-west-1-availability", types.StateValueOk, t0.Add(-time.Hour)), metricAlarm("mrap-eu-west-1-latency", types.StateValueOk, t0.Add(-20*time.Minute))}},
	}}
	apse := &pagedAlarms{err: errors.New("dial tcp: i/o timeout")}
	apne := &pagedAlarms{pages: []*cloudwatch.DescribeAlarmsOutput{{}}}
	r, err := NewAlarmReader(map[string]AlarmsAPI{"us-east-1": use1, "eu-west-1": euw1, "ap-southeast-2": apse, "ap-northeast-1": apne}, AlarmOptions{Prefix: "mrap-"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Read(context.Background(), []string{"us-east-1", "eu-west-1", "ap-southeast-2", "ap-northeast-1"})
	if err == nil || !strings.Contains(err.Error(), "ap-southeast-2") {
		t.Errorf("err = %v, want the unreadable Region named", err)
	}
	tests := []struct {
		region     string
		want       routing.State
		wantSince  time.Time
		wantDetail string
	}{
		{"us-east-1", routing.Alarm, t0.Add(-2 * time.Minute), "ALARM: mrap-us-east-1-health, mrap-us-east-1-latency"},
		{"eu-west-1", routing.OK, t0.Add(-20 * time.Minute), "2 alarms OK"},
		{"ap-southeast-2", routing.InsufficientData, time.Time{}, "alarms unreadable"},
		{"ap-northeast-1", routing.InsufficientData, time.Time{}, "no alarms named mrap-ap-northeast-1-*"},
	}
	for _, tt := range tests {
		h := got[tt.region]
		if h.State != tt.want || !h.Since.Equal(tt.wantSince) || !strings.Contains(h.Detail, tt.wantDetail) {
			t.Errorf("%s = %+v, want %s since %v detail %q", tt.region, h, tt.want, tt.wantSince, tt.wantDetail)
		}
	}
	if len(use1.calls) != 2 {
		t.Fatalf("us-east-1 pages read = %d, want 2", len(use1.calls))
	}
	in := use1.calls[0]
	if aws.ToString(in.AlarmNamePrefix) != "mrap-us-east-1-" || len(in.AlarmTypes) != 2 {
		t.Errorf("DescribeAlarms input = prefix %q types %v", aws.ToString(in.AlarmNamePrefix), in.AlarmTypes)
	}
}

func TestCombine(t *testing.T) {
	tests := []struct {
		name      string
		alarms    []AlarmState
		want      routing.State
		wantSince time.Time
	}{
		{"all OK: healthy since the latest transition", []AlarmState{{"a", routing.OK, t0.Add(-time.Hour)}, {"b", routing.OK, t0.Add(-5 * time.Minute)}}, routing.OK, t0.Add(-5 * time.Minute)},
		{"ALARM wins: since the earliest alarm", []AlarmState{{"a", routing.Alarm, t0.Add(-3 * time.Minute)}, {"b", routing.InsufficientData, t0.Add(-time.Hour)}, {"c", routing.Alarm, t0.Add(-time.Minute)}}, routing.Alarm, t0.Add(-3 * time.Minute)},
		{"INSUFFICIENT_DATA beats OK", []AlarmState{{"a", routing.OK, t0}, {"b", routing.InsufficientData, t0.Add(-time.Minute)}}, routing.InsufficientData, t0.Add(-time.Minute)},
		{"an unknown state counts as INSUFFICIENT_DATA", []AlarmState{{"a", routing.OK, t0}, {"b", "PENDING", t0.Add(-time.Minute)}}, routing.InsufficientData, t0.Add(-time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Combine(tt.alarms)
			if got.State != tt.want || !got.Since.Equal(tt.wantSince) {
				t.Errorf("Combine = %+v, want %s since %v", got, tt.want, tt.wantSince)
			}
		})
	}
}

func TestNewAlarmReaderNeedsPrefixAndClients(t *testing.T) {
	if _, err := NewAlarmReader(map[string]AlarmsAPI{"us-east-1": &pagedAlarms{}}, AlarmOptions{}); err == nil {
		t.Error("no prefix should be an error")
	}
	if _, err := NewAlarmReader(nil, AlarmOptions{Prefix: "mrap-"}); err == nil {
		t.Error("no clients should be an error")
	}
}

// hungAlarms is the CloudWatch of an observer Region that is gone: every call waits for its
// context.
type hungAlarms struct{}

func (hungAlarms) DescribeAlarms(ctx context.Context, _ *cloudwatch.DescribeAlarmsInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// A lost observer Region costs Observe the grace once a majority of observers answered, not
// the per-Region timeout, and it does not vote.
func TestObserveALostObserverCostsTheGrace(t *testing.T) {
	topo := Topology{Members: []string{"us-east-1", "eu-west-1", "ap-southeast-2"}}
	ok := func(observer string, targets ...string) *pagedAlarms {
		var alarms []types.MetricAlarm
		for _, tg := range targets {
			alarms = append(alarms, metricAlarm(AlarmName("mrap-", tg, observer), types.StateValueAlarm, t0))
		}
		return &pagedAlarms{pages: []*cloudwatch.DescribeAlarmsOutput{{MetricAlarms: alarms}}}
	}
	r, err := NewAlarmReader(map[string]AlarmsAPI{
		"us-east-1":      hungAlarms{},
		"eu-west-1":      ok("eu-west-1", "us-east-1", "ap-southeast-2"),
		"ap-southeast-2": ok("ap-southeast-2", "us-east-1", "eu-west-1"),
	}, AlarmOptions{Prefix: "mrap-", Timeout: time.Hour, Grace: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan Observations, 1)
	go func() { obs, _ := r.Observe(context.Background(), topo); done <- obs }()
	select {
	case obs := <-done:
		if _, lost := obs.Unreadable["us-east-1"]; !lost || len(obs.Got) != 4 {
			t.Errorf("observations %+v: want us-east-1 unreadable and the 4 of the others", obs)
		}
		if v := Quorum(topo, obs); v.Health["us-east-1"].State != routing.Alarm {
			t.Errorf("us-east-1 = %+v, want ALARM from its two other observers", v.Health["us-east-1"])
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Observe waited for an observer that never answers although a majority had")
	}
}
