package health

import (
	"context"
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
