package failover

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// Notifier sends the human-readable audit of a change.
type Notifier interface {
	Notify(ctx context.Context, subject, message string) error
}

// PublishAPI is the part of *sns.Client the SNS notifier calls.
type PublishAPI interface {
	Publish(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)
}

var _ PublishAPI = (*sns.Client)(nil)

// SNSNotifier publishes audit notifications to one topic.
type SNSNotifier struct {
	client   PublishAPI
	topicARN string
}

// NewSNSNotifier returns a notifier publishing to topicARN.
func NewSNSNotifier(client PublishAPI, topicARN string) *SNSNotifier {
	return &SNSNotifier{client: client, topicARN: topicARN}
}

// Notify publishes message with subject (cut to the 100 characters SNS allows).
func (n *SNSNotifier) Notify(ctx context.Context, subject, message string) error {
	if len(subject) > 100 {
		subject = subject[:97] + "..."
	}
	_, err := n.client.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(n.topicARN), Subject: aws.String(subject), Message: aws.String(message)})
	if err != nil {
		return fmt.Errorf("publish audit to %s: %w", n.topicARN, err)
	}
	return nil
}
