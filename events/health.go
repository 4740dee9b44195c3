package events

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// EventBridge source and detail-type of AWS Health events.
const (
	HealthSource          = "aws.health"
	DetailTypeHealthEvent = "AWS Health Event"
)

// AWS Health status codes and the category of operational issues.
const (
	HealthStatusOpen     = "open"
	HealthStatusClosed   = "closed"
	HealthStatusUpcoming = "upcoming"
	HealthCategoryIssue  = "issue"
)

// HealthEvent is the EventBridge envelope of an "AWS Health Event" (AWS Health user guide,
// "AWS Health events Amazon EventBridge schema"). The envelope Region is where the
// notification was delivered; the affected Region is Detail.EventRegion.
type HealthEvent struct {
	Envelope
	Detail HealthDetail `json:"detail"`
}

// HealthDetail is the detail of an AWS Health event. Times are strings in RFC 1123 form
// ("Thu, 27 Jan 2023 13:19:03 GMT"); parse them with ParseHealthTime.
type HealthDetail struct {
	EventARN          string              `json:"eventArn"`
	Service           string              `json:"service"`
	EventTypeCode     string              `json:"eventTypeCode"`
	EventTypeCategory string              `json:"eventTypeCategory"`
	EventScopeCode    string              `json:"eventScopeCode,omitempty"`
	CommunicationID   string              `json:"communicationId,omitempty"`
	StartTime         string              `json:"startTime,omitempty"`
	EndTime           string              `json:"endTime,omitempty"`
	LastUpdatedTime   string              `json:"lastUpdatedTime,omitempty"`
	StatusCode        string              `json:"statusCode"`
	EventRegion       string              `json:"eventRegion,omitempty"`
	EventDescription  []HealthDescription `json:"eventDescription"`
	AffectedEntities  []HealthEntity      `json:"affectedEntities"`
	AffectedAccount   string              `json:"affectedAccount,omitempty"`
	Page              string              `json:"page,omitempty"`
	TotalPages        string              `json:"totalPages,omitempty"`
}

// HealthDescription is one language's text of an AWS Health event.
type HealthDescription struct {
	Language          string `json:"language"`
	LatestDescription string `json:"latestDescription"`
}

// HealthEntity is one resource an AWS Health event names.
type HealthEntity struct {
	EntityValue string            `json:"entityValue"`
	Status      string            `json:"status,omitempty"`
	LastUpdated string            `json:"lastUpdatedTime,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
}

// ParseHealthTime parses an AWS Health time: RFC 1123 as sent by EventBridge, or RFC 3339.
func ParseHealthTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC1123, time.RFC1123Z, time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("health time %q is neither RFC 1123 nor RFC 3339", s)
}

// AffectedRegion is the Region the event is about: detail.eventRegion, or the envelope
// Region when the detail does not say.
func (ev HealthEvent) AffectedRegion() string {
	if ev.Detail.EventRegion != "" {
		return ev.Detail.EventRegion
	}
	return ev.Region
}

// IsS3Issue reports whether ev is an operational issue of Amazon S3.
func (ev HealthEvent) IsS3Issue() bool {
	return strings.EqualFold(ev.Detail.Service, "S3") && ev.Detail.EventTypeCategory == HealthCategoryIssue
}

// UpdatedAt is the last update of the event (lastUpdatedTime, else startTime, else the
// envelope time), the order in which updates of one event are applied.
func (ev HealthEvent) UpdatedAt() time.Time {
	for _, s := range []string{ev.Detail.LastUpdatedTime, ev.Detail.StartTime} {
		if t, err := ParseHealthTime(s); err == nil {
			return t
		}
	}
	return ev.Time
}

// ParseHealthEvent decodes and validates an AWS Health event envelope.
func ParseHealthEvent(raw []byte) (HealthEvent, error) {
	var ev HealthEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return HealthEvent{}, fmt.Errorf("decode health event: %w", err)
	}
	return ev, ev.Validate()
}

// Validate reports what makes ev unusable as an AWS Health event.
func (ev HealthEvent) Validate() error {
	if err := ev.expect("health event", HealthSource, DetailTypeHealthEvent); err != nil {
		return err
	}
	switch {
	case ev.Detail.EventARN == "":
		return fmt.Errorf("health event: detail.eventArn is empty")
	case ev.Detail.Service == "":
		return fmt.Errorf("health event: detail.service is empty")
	case ev.AffectedRegion() == "":
		return fmt.Errorf("health event: no affected Region in detail.eventRegion or region")
	}
	switch ev.Detail.StatusCode {
	case HealthStatusOpen, HealthStatusClosed, HealthStatusUpcoming:
		return nil
	}
	return fmt.Errorf("health event: detail.statusCode %q is not open, closed or upcoming", ev.Detail.StatusCode)
}
