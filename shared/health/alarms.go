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
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"

	"github.com/mrap-engine/mrap/shared/quorum"
)

// AlarmsAPI is the part of *cloudwatch.Client the alarm reader calls.
type AlarmsAPI interface {
	DescribeAlarms(ctx context.Context, in *cloudwatch.DescribeAlarmsInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
}

var _ AlarmsAPI = (*cloudwatch.Client)(nil)

// AlarmOptions configure an AlarmReader.
type AlarmOptions struct {
	// Prefix starts the name of every health alarm ({Prefix}{target}-from-{observer}-
	// availability, AlarmName). Required.
	Prefix string
	// Timeout bounds the reading of one observer Region (default 10s).
	Timeout time.Duration
	// Grace is how long Observe waits for the other observer Regions once a majority has
	// answered (default quorum.DefaultGrace): an observer Region that is gone costs the
	// grace, not Timeout, and does not vote.
	Grace time.Duration
}

// AlarmReader reads the health alarms of every observer Region, through one CloudWatch
// client per observer (an alarm lives in the Region of the observer that raised it).
type AlarmReader struct {
	clients map[string]AlarmsAPI
	opts    AlarmOptions
}

// NewAlarmReader returns a reader over one CloudWatch client per observer Region.
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
