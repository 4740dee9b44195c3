package health

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/mrap-engine/mrap/shared/quorum"
	"github.com/mrap-engine/mrap/shared/routing"
)

// AlarmName is the name of the health alarm of target as seen from observer, which lives in
// the observer's Region: {prefix}{target}-from-{observer}-availability.
func AlarmName(prefix, target, observer string) string {
	return prefix + target + "-from-" + observer + "-availability"
}

// parseAlarmName returns the target of an observer's health alarm, or "" when name is not
// one of them.
func parseAlarmName(prefix, observer, name string, members []string) string {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return ""
	}
	t, ok := strings.CutSuffix(rest, "-from-"+observer+"-availability")
	if !ok || !slices.Contains(members, t) {
		return ""
	}
	return t
}

var _ ObservationReader = (*AlarmReader)(nil)

// Observe reads, in parallel and each bounded by the reader's timeout, the health alarms of
// every observer of topo in that observer's Region (DescribeAlarms with the alarm-name
// prefix); once a majority of observers has answered it waits for the others only the grace.
// An observer whose alarms cannot be read (or not within the grace) is Unreadable; a member
// with no alarm in a readable observer is an INSUFFICIENT_DATA observation ("no alarm"),
// which does not vote.
func (r *AlarmReader) Observe(ctx context.Context, topo Topology) (Observations, error) {
	observers := topo.Observers()
	got, causes := quorum.Gather(ctx, len(observers), quorum.Majority(len(observers)), r.opts.Grace,
		func(ctx context.Context, i int) ([]Observation, error) {
			return r.observe(ctx, observers[i], topo.Members)
		})
	out := Observations{Unreadable: map[string]string{}}
	for i, o := range observers {
		if causes[i] != nil {
			out.Unreadable[o] = causes[i].Error()
			continue
		}
		out.Got = append(out.Got, got[i]...)
	}
	return out, nil
}

func (r *AlarmReader) observe(ctx context.Context, observer string, members []string) ([]Observation, error) {
	client, ok := r.clients[observer]
	if !ok {
		return nil, errors.New("no CloudWatch client for this Region")
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	pages := cloudwatch.NewDescribeAlarmsPaginator(client, &cloudwatch.DescribeAlarmsInput{
		AlarmNamePrefix: aws.String(r.opts.Prefix),
		AlarmTypes:      []types.AlarmType{types.AlarmTypeMetricAlarm},
	})
	found := map[string]Observation{}
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe alarms %s* in %s: %w", r.opts.Prefix, observer, err)
		}
		for _, a := range page.MetricAlarms {
			name := aws.ToString(a.AlarmName)
			t := parseAlarmName(r.opts.Prefix, observer, name, members)
			if t == "" {
				continue
			}
			st := routing.State(a.StateValue)
			switch st {
			case routing.OK, routing.Alarm, routing.InsufficientData:
			default:
				st = routing.InsufficientData
			}
			found[t] = Observation{Observer: observer, Target: t, State: st, Since: aws.ToTime(a.StateUpdatedTimestamp), Detail: name}
		}
	}
	var out []Observation
	for _, t := range members {
		if t == observer {
			continue
		}
		ob, ok := found[t]
		if !ok {
			ob = Observation{Observer: observer, Target: t, State: routing.InsufficientData, Detail: "no alarm " + AlarmName(r.opts.Prefix, t, observer)}
		}
		out = append(out, ob)
	}
	return out, nil
}
