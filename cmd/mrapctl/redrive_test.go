package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// fakeSQS records move tasks and answers ListMessageMoveTasks from a script of statuses.
type fakeSQS struct {
	started  []sqs.StartMessageMoveTaskInput
	statuses []string // returned in turn by ListMessageMoveTasks
	startErr error
}

func (f *fakeSQS) StartMessageMoveTask(_ context.Context, in *sqs.StartMessageMoveTaskInput, _ ...func(*sqs.Options)) (*sqs.StartMessageMoveTaskOutput, error) {
	if f.startErr != nil {
		return nil, f.startErr
	}
	f.started = append(f.started, *in)
	return &sqs.StartMessageMoveTaskOutput{TaskHandle: aws.String("h1")}, nil
}

func (f *fakeSQS) ListMessageMoveTasks(_ context.Context, in *sqs.ListMessageMoveTasksInput, _ ...func(*sqs.Options)) (*sqs.ListMessageMoveTasksOutput, error) {
	s := f.statuses[0]
	if len(f.statuses) > 1 {
		f.statuses = f.statuses[1:]
	}
	return &sqs.ListMessageMoveTasksOutput{Results: []types.ListMessageMoveTasksResultEntry{{
		SourceArn: in.SourceArn, Status: aws.String(s), ApproximateNumberOfMessagesMoved: 7, ApproximateNumberOfMessagesToMove: aws.Int64(7),
		FailureReason: aws.String("AccessDenied on the destination"),
	}}}, nil
}

func TestRedriveAWS(t *testing.T) {
	queues, err := parseQueueARNs("arn:aws:sqs:us-east-1:111122223333:mrap-replicator-dlq, arn:aws:sqs:eu-west-1:111122223333:mrap-replicator-dlq")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		us, eu   *fakeSQS
		wait     time.Duration
		wantErr  string
		to       map[string]string
		wantText string
	}{
		{name: "one move task per Region, back to the source queue, waited for",
			us: &fakeSQS{statuses: []string{"RUNNING", "COMPLETED"}}, eu: &fakeSQS{statuses: []string{"COMPLETED"}}, wait: time.Minute,
			wantText: "us-east-1/mrap-replicator-dlq: COMPLETED, 7 moved of 7"},
		{name: "DLQ moved to the replication queue of its Region",
			us: &fakeSQS{statuses: []string{"COMPLETED"}}, eu: &fakeSQS{statuses: []string{"COMPLETED"}},
			to: map[string]string{"us-east-1": "arn:aws:sqs:us-east-1:111122223333:q", "eu-west-1": "arn:aws:sqs:eu-west-1:111122223333:q"}, wantText: "moving messages to arn:aws:sqs:eu-west-1:111122223333:q"},
		{name: "a failed move is reported", us: &fakeSQS{statuses: []string{"FAILED"}}, eu: &fakeSQS{statuses: []string{"COMPLETED"}}, wait: time.Minute,
			wantErr: "AccessDenied on the destination"},
		{name: "a refused start is reported and the other Region still redriven",
			us: &fakeSQS{startErr: errors.New("AWS.SimpleQueueService.NonExistentQueue")}, eu: &fakeSQS{statuses: []string{"COMPLETED"}},
			wantErr: "NonExistentQueue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := redriveAWS(context.Background(), map[string]MoveTaskAPI{"us-east-1": tt.us, "eu-west-1": tt.eu}, queues, tt.to, 50, tt.wait, time.Millisecond, &out)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if len(tt.eu.started) != 1 || aws.ToString(tt.eu.started[0].SourceArn) != queues[1].String() ||
				aws.ToString(tt.eu.started[0].DestinationArn) != tt.to["eu-west-1"] || aws.ToInt32(tt.eu.started[0].MaxNumberOfMessagesPerSecond) != 50 {
				t.Errorf("eu-west-1 move tasks %+v, want one from the DLQ to %q at 50/s", tt.eu.started, tt.to["eu-west-1"])
			}
			if !strings.Contains(out.String(), tt.wantText) {
				t.Errorf("output %q", out.String())
			}
		})
	}
}
