// Package health tells the failover engine how each member Region is doing, from outside:
// every observer Region (member or witness) holds one alarm per other member
// ({prefix}{target}-from-{observer}-availability); AlarmReader.Observe reads them per observer,
// Quorum (pure) turns the votes into one state per member, QuorumReader is the engine's health
// reader. It also runs the canary prober whose metrics those alarms watch (a write, read and
// delete in each target bucket, and a read through the Multi-Region Access Point).
package health

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/mrap-engine/mrap/shared/quorum"
	"github.com/mrap-engine/mrap/shared/routing"
)

// AlarmsAPI is the part of *cloudwatch.Client the alarm reader calls.
type AlarmsAPI interface {
	DescribeAlarms(ctx context.Context, in *cloudwatch.DescribeAlarmsInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
}

var _ AlarmsAPI = (*cloudwatch.Client)(nil)

// AlarmOptions configure an AlarmReader.
type AlarmOptions struct {
	// Prefix starts the name of every health alarm: Region R's alarms are named
	// "{Prefix}{R}-...". Required.
	Prefix string
	// Timeout bounds the reading of one Region (default 10s).
	Timeout time.Duration
	// Grace is how long Observe waits for the other observer Regions once a majority has
	// answered (default quorum.DefaultGrace): an observer Region that is gone costs the
	// grace, not Timeout, and does not vote.
	Grace time.Duration
}

// AlarmReader reads the health of each Region from its alarms, through one CloudWatch
// client per Region (alarms live in the Region they watch).
type AlarmReader struct {
	clients map[string]AlarmsAPI
	opts    AlarmOptions
}

// NewAlarmReader returns a reader over one CloudWatch client per Region.
func NewAlarmReader(clients map[string]AlarmsAPI, opts AlarmOptions, optFns ...func(*AlarmOptions)) (*AlarmReader, error) {
	for _, fn := range optFns {
		fn(&opts)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Grace <= 0 {
		opts.Grace = quorum.DefaultGrace
	}
	if opts.Prefix == "" {
		return nil, errors.New("alarm reader: alarm name prefix is required")
	}
	if len(clients) == 0 {
		return nil, errors.New("alarm reader: no CloudWatch clients")
	}
	return &AlarmReader{clients: clients, opts: opts}, nil
}

// Read returns the health of every Region in regions, reading them in parallel. A Region
// whose alarms cannot be read, or that has none, is INSUFFICIENT_DATA with the cause in
// Detail; those causes are also returned, joined, as a non-nil error next to a complete map.
func (r *AlarmReader) Read(ctx context.Context, regions []string) (map[string]routing.RegionHealth, error) {
	out := make(map[string]routing.RegionHealth, len(regions))
	errs := make([]error, len(regions))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, region := range regions {
		wg.Go(func() {
			h, err := r.readRegion(ctx, region)
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", region, err)
				h = routing.RegionHealth{State: routing.InsufficientData, Detail: "alarms unreadable: " + err.Error()}
			}
			mu.Lock()
			out[region] = h
			mu.Unlock()
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

func (r *AlarmReader) readRegion(ctx context.Context, region string) (routing.RegionHealth, error) {
	client, ok := r.clients[region]
	if !ok {
		return routing.RegionHealth{}, errors.New("no CloudWatch client for this Region")
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	prefix := r.opts.Prefix + region + "-"
	pages := cloudwatch.NewDescribeAlarmsPaginator(client, &cloudwatch.DescribeAlarmsInput{
		AlarmNamePrefix: aws.String(prefix),
		AlarmTypes:      []types.AlarmType{types.AlarmTypeMetricAlarm, types.AlarmTypeCompositeAlarm},
	})
	var alarms []AlarmState
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return routing.RegionHealth{}, fmt.Errorf("describe alarms %s*: %w", prefix, err)
		}
		for _, a := range page.MetricAlarms {
			alarms = append(alarms, AlarmState{Name: aws.ToString(a.AlarmName), State: routing.State(a.StateValue), Since: aws.ToTime(a.StateUpdatedTimestamp)})
		}
		for _, a := range page.CompositeAlarms {
			alarms = append(alarms, AlarmState{Name: aws.ToString(a.AlarmName), State: routing.State(a.StateValue), Since: aws.ToTime(a.StateUpdatedTimestamp)})
		}
	}
	if len(alarms) == 0 {
		return routing.RegionHealth{State: routing.InsufficientData, Detail: "no alarms named " + prefix + "*"}, nil
	}
	return Combine(alarms), nil
}

// AlarmState is one alarm's state.
type AlarmState struct {
	Name  string
	State routing.State
	Since time.Time
}

// Combine folds the alarms of one Region into its health: the worst state wins (ALARM, then
// INSUFFICIENT_DATA, then OK). Since is the earliest entry into ALARM or INSUFFICIENT_DATA
// among the worst, or for OK the latest transition (healthy as a whole since then).
func Combine(alarms []AlarmState) routing.RegionHealth {
	rank := func(s routing.State) int {
		switch s {
		case routing.Alarm:
			return 2
		case routing.OK:
			return 0
		default:
			return 1
		}
	}
	worst := routing.OK
	for _, a := range alarms {
		if rank(a.State) > rank(worst) {
			worst = a.State
		}
	}
	if rank(worst) == 1 {
		worst = routing.InsufficientData
	}
	var names []string
	var since time.Time
	for _, a := range alarms {
		if rank(a.State) != rank(worst) {
			continue
		}
		names = append(names, a.Name)
		switch {
		case since.IsZero():
			since = a.Since
		case worst == routing.OK && a.Since.After(since):
			since = a.Since
		case worst != routing.OK && a.Since.Before(since):
			since = a.Since
		}
	}
	slices.Sort(names)
	detail := fmt.Sprintf("%s: %s", worst, strings.Join(names, ", "))
	if worst == routing.OK {
		detail = fmt.Sprintf("%d alarms OK", len(names))
	}
	return routing.RegionHealth{State: worst, Since: since, Detail: detail}
}
