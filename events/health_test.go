package events

import (
	"strings"
	"testing"
	"time"
)

func TestParseHealthEventFixtures(t *testing.T) {
	tests := []struct {
		file    string
		region  string
		status  string
		s3Issue bool
		updated time.Time
	}{
		{"health-s3-issue-open.json", "eu-west-1", "open", true, time.Date(2026, 11, 25, 17, 9, 41, 0, time.UTC)},
		{"health-s3-issue-closed.json", "eu-west-1", "closed", true, time.Date(2026, 11, 25, 18, 39, 12, 0, time.UTC)},
		{"health-ec2-scheduled.json", "eu-west-1", "upcoming", false, time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw := loadEventFixture(t, tt.file)
			ev, err := ParseHealthEvent(raw)
			if err != nil {
				t.Fatalf("ParseHealthEvent: %v", err)
			}
			if got := ev.AffectedRegion(); got != tt.region {
				t.Errorf("AffectedRegion() = %q, want %q", got, tt.region)
			}
			if ev.Detail.StatusCode != tt.status {
				t.Errorf("status = %q, want %q", ev.Detail.StatusCode, tt.status)
			}
			if got := ev.IsS3Issue(); got != tt.s3Issue {
				t.Errorf("IsS3Issue() = %v, want %v", got, tt.s3Issue)
			}
			if got := ev.UpdatedAt(); !got.Equal(tt.updated) {
				t.Errorf("UpdatedAt() = %v, want %v", got, tt.updated)
			}
			assertRoundTrip(t, raw, ev)
		})
	}
}

func TestHealthAffectedRegionIsTheEventRegionNotTheEnvelope(t *testing.T) {
	ev, err := ParseHealthEvent(loadEventFixture(t, "health-s3-issue-open.json"))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Region == ev.AffectedRegion() {
		t.Fatalf("fixture should be delivered to another Region than the affected one")
	}
	ev.Detail.EventRegion = ""
	if got := ev.AffectedRegion(); got != ev.Region {
		t.Errorf("without eventRegion AffectedRegion() = %q, want envelope %q", got, ev.Region)
	}
}

func TestParseHealthEventRejects(t *testing.T) {
	good := string(loadEventFixture(t, "health-s3-issue-open.json"))
	tests := []struct{ name, raw, wantErr string }{
		{"not json", "[]", "decode health event"},
		{"wrong detail-type", strings.Replace(good, `"AWS Health Event"`, `"AWS Health Abuse Event"`, 1), "detail-type"},
		{"bad status", strings.Replace(good, `"statusCode": "open"`, `"statusCode": "maybe"`, 1), "maybe"},
		{"no arn", strings.Replace(good, `"eventArn": "arn:aws:health:eu-west-1::event/S3/AWS_S3_OPERATIONAL_ISSUE/AWS_S3_OPERATIONAL_ISSUE_7C1F2A"`, `"eventArn": ""`, 1), "eventArn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseHealthEvent([]byte(tt.raw))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}
