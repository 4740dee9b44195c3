package events

import (
	"encoding/json"
	"fmt"
	"time"
)

// EventBridge source and detail-type of CloudWatch alarm state changes.
const (
	CloudWatchSource           = "aws.cloudwatch"
	DetailTypeAlarmStateChange = "CloudWatch Alarm State Change"
)

// Alarm state values.
const (
	AlarmStateOK               = "OK"
	AlarmStateAlarm            = "ALARM"
	AlarmStateInsufficientData = "INSUFFICIENT_DATA"
)

// AlarmTimeLayout is the layout of alarm state timestamps ("2019-10-02T17:04:40.989+0000").
const AlarmTimeLayout = "2006-01-02T15:04:05.000-0700"

// AlarmStateChangeEvent is the EventBridge envelope of "CloudWatch Alarm State Change"
// (CloudWatch user guide, "Alarm events and EventBridge").
type AlarmStateChangeEvent struct {
	Envelope
	Detail AlarmStateDetail `json:"detail"`
}

// AlarmStateDetail is the detail of an alarm state change, for metric and composite alarms.
type AlarmStateDetail struct {
	AlarmName     string             `json:"alarmName"`
	State         AlarmState         `json:"state"`
	PreviousState AlarmState         `json:"previousState"`
	Configuration AlarmConfiguration `json:"configuration"`
	// AlarmTags are the alarm's tags when tag propagation is on.
	AlarmTags map[string]string `json:"alarmTags,omitempty"`
}

// AlarmState is one state of an alarm with the evaluation that produced it.
type AlarmState struct {
	Value string `json:"value"`
	// Reason is the human-readable explanation CloudWatch gives.
	Reason string `json:"reason"`
	// ReasonData is a JSON document encoded as a string (absent for composite alarms).
	ReasonData string `json:"reasonData,omitempty"`
	// Timestamp uses AlarmTimeLayout; parse it with Time.
	Timestamp            string `json:"timestamp"`
	ActionsSuppressedBy  string `json:"actionsSuppressedBy,omitempty"`
	ActionsSuppressedRsn string `json:"actionsSuppressedReason,omitempty"`
}

// Time parses Timestamp (AlarmTimeLayout, falling back to RFC 3339).
func (s AlarmState) Time() (time.Time, error) {
	t, err := time.Parse(AlarmTimeLayout, s.Timestamp)
	if err == nil {
		return t, nil
	}
	if t2, err2 := time.Parse(time.RFC3339Nano, s.Timestamp); err2 == nil {
		return t2, nil
	}
	return time.Time{}, fmt.Errorf("alarm state timestamp %q: %w", s.Timestamp, err)
}

// ReasonDataMap decodes ReasonData; an empty ReasonData gives a nil map.
func (s AlarmState) ReasonDataMap() (map[string]any, error) {
	if s.ReasonData == "" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s.ReasonData), &m); err != nil {
		return nil, fmt.Errorf("alarm reasonData: %w", err)
	}
	return m, nil
}

// AlarmConfiguration is the alarm's configuration at the time of the change. Metric alarms
// carry Metrics; composite alarms carry AlarmRule.
type AlarmConfiguration struct {
	Description string            `json:"description,omitempty"`
	AlarmRule   string            `json:"alarmRule,omitempty"`
	Metrics     []json.RawMessage `json:"metrics,omitempty"`
}

// ParseAlarmStateChange decodes and validates an alarm state change envelope.
func ParseAlarmStateChange(raw []byte) (AlarmStateChangeEvent, error) {
	var ev AlarmStateChangeEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return AlarmStateChangeEvent{}, fmt.Errorf("decode alarm state change: %w", err)
	}
	return ev, ev.Validate()
}

// Validate reports what makes ev unusable as an alarm state change.
func (ev AlarmStateChangeEvent) Validate() error {
	if err := ev.expect("alarm state change", CloudWatchSource, DetailTypeAlarmStateChange); err != nil {
		return err
	}
	switch {
	case ev.Detail.AlarmName == "":
		return fmt.Errorf("alarm state change: detail.alarmName is empty")
	case !ValidAlarmState(ev.Detail.State.Value):
		return fmt.Errorf("alarm state change: detail.state.value %q is not OK, ALARM or INSUFFICIENT_DATA", ev.Detail.State.Value)
	}
	if _, err := ev.Detail.State.Time(); err != nil {
		return fmt.Errorf("alarm state change: %w", err)
	}
	return nil
}

// ValidAlarmState reports whether v is one of the three alarm states.
func ValidAlarmState(v string) bool {
	return v == AlarmStateOK || v == AlarmStateAlarm || v == AlarmStateInsufficientData
}
