package events

import (
	"encoding/json"
	"fmt"
)

// EventBridge source and detail-type of the engine's own routing commands
// (docs/contracts.md, "Events the engine defines").
const (
	CommandSource            = "mrap.engine"
	DetailTypeRoutingCommand = "MRAP Routing Command"
)

// Routing command actions.
const (
	// CommandFailover sends all traffic to Region and keeps it there until a failback.
	CommandFailover = "failover"
	// CommandFailback clears every manual override and returns to what the policy says.
	CommandFailback = "failback"
	// CommandDrain takes Region out of routing until a failback.
	CommandDrain = "drain"
)

// RoutingCommandEvent is the EventBridge envelope of a manual routing command, as put on
// the bus by `mrapctl failover` or `aws events put-events`.
type RoutingCommandEvent struct {
	Envelope
	Detail RoutingCommandDetail `json:"detail"`
}

// RoutingCommandDetail is what the operator asks for.
type RoutingCommandDetail struct {
	Action string `json:"action"`
	// Region is the target of failover and drain; empty for failback.
	Region      string `json:"region,omitempty"`
	Reason      string `json:"reason,omitempty"`
	RequestedBy string `json:"requestedBy,omitempty"`
	// CommandID identifies one operator command sent to every decider Region's bus
	// (mrapctl sets a UUID); the deciders apply it once. Optional: the event id stands in.
	CommandID string `json:"commandId,omitempty"`
}

// ParseRoutingCommand decodes and validates a routing command envelope.
func ParseRoutingCommand(raw []byte) (RoutingCommandEvent, error) {
	var ev RoutingCommandEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return RoutingCommandEvent{}, fmt.Errorf("decode routing command: %w", err)
	}
	return ev, ev.Validate()
}

// Validate reports what makes ev unusable as a routing command.
func (ev RoutingCommandEvent) Validate() error {
	if err := ev.expect("routing command", CommandSource, DetailTypeRoutingCommand); err != nil {
		return err
	}
	return ev.Detail.Validate()
}

// Validate reports what makes d an incomplete command.
func (d RoutingCommandDetail) Validate() error {
	switch d.Action {
	case CommandFailover, CommandDrain:
		if d.Region == "" {
			return fmt.Errorf("routing command %q: region is required", d.Action)
		}
	case CommandFailback:
		if d.Region != "" {
			return fmt.Errorf("routing command failback: takes no region, got %q", d.Region)
		}
	default:
		return fmt.Errorf("routing command: action %q is not failover, failback or drain", d.Action)
	}
	return nil
}
