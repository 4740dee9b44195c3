package events

import (
	"encoding/json"
	"fmt"
	"time"
)

// Envelope is what every EventBridge event carries around its detail (EventBridge user
// guide, "Amazon EventBridge events"). Each source's event type embeds it next to a typed
// detail (S3ObjectEvent, AlarmStateChangeEvent, HealthEvent, RoutingCommandEvent); Event
// carries the detail undecoded, as aws-lambda-go's CloudWatchEvent does.
type Envelope struct {
	Version    string    `json:"version"`
	ID         string    `json:"id"`
	DetailType string    `json:"detail-type"`
	Source     string    `json:"source"`
	AccountID  string    `json:"account"`
	Time       time.Time `json:"time"`
	Region     string    `json:"region"`
	Resources  []string  `json:"resources"`
	// ReplayName is set on events an archive replays.
	ReplayName string `json:"replay-name,omitempty"`
}

// Event is an EventBridge event whose detail is left raw: read the envelope to tell the
// source, then decode the detail with that source's parser.
type Event struct {
	Envelope
	Detail json.RawMessage `json:"detail"`
}

// ParseEvent decodes the envelope of an EventBridge event, leaving the detail raw.
func ParseEvent(raw []byte) (Event, error) {
	var ev Event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return Event{}, fmt.Errorf("event is not an EventBridge envelope: %w", err)
	}
	return ev, nil
}

// Is reports whether the event comes from source with detailType.
func (e Envelope) Is(source, detailType string) bool {
	return e.Source == source && e.DetailType == detailType
}

// expect is the error of an event that is not of the named kind, or nil.
func (e Envelope) expect(what, source, detailType string) error {
	if e.Is(source, detailType) {
		return nil
	}
	return fmt.Errorf("%s: want source %q and detail-type %q, got %q and %q", what, source, detailType, e.Source, e.DetailType)
}
