package events

import (
	"strings"
	"testing"
)

func TestParseRoutingCommandFixtures(t *testing.T) {
	tests := []struct {
		file, action, region, wantErr string
	}{
		{"command-failover.json", CommandFailover, "us-east-1", ""},
		{"command-drain.json", CommandDrain, "eu-west-1", ""},
		{"command-failback.json", CommandFailback, "", ""},
		{"command-unknown-action.json", "reboot", "eu-west-1", `action "reboot"`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw := loadEventFixture(t, tt.file)
			ev, err := ParseRoutingCommand(raw)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRoutingCommand: %v", err)
			}
			if ev.Detail.Action != tt.action || ev.Detail.Region != tt.region {
				t.Errorf("got action %q region %q", ev.Detail.Action, ev.Detail.Region)
			}
			if tt.file == "command-failover.json" && ev.Detail.CommandID != "5b1f0c2e-8d3a-4c6e-9f7b-2a1d3e4f5a6b" {
				t.Errorf("commandId = %q, want the fixture's", ev.Detail.CommandID)
			}
			if ev.Detail.RequestedBy == "" || ev.Detail.Reason == "" {
				t.Errorf("requestedBy and reason should be carried, got %+v", ev.Detail)
			}
			assertRoundTrip(t, raw, ev)
		})
	}
}

func TestRoutingCommandValidate(t *testing.T) {
	tests := []struct {
		name    string
		detail  RoutingCommandDetail
		wantErr string
	}{
		{"failover needs a region", RoutingCommandDetail{Action: CommandFailover}, "region is required"},
		{"drain needs a region", RoutingCommandDetail{Action: CommandDrain}, "region is required"},
		{"failback takes none", RoutingCommandDetail{Action: CommandFailback, Region: "eu-west-1"}, "takes no region"},
		{"empty action", RoutingCommandDetail{}, "is not failover"},
		{"valid failover", RoutingCommandDetail{Action: CommandFailover, Region: "eu-west-1"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.detail.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Validate() = %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestRoutingCommandRejectsForeignSource(t *testing.T) {
	raw := strings.Replace(string(loadEventFixture(t, "command-failover.json")), `"mrap.engine"`, `"aws.events"`, 1)
	if _, err := ParseRoutingCommand([]byte(raw)); err == nil || !strings.Contains(err.Error(), "want source") {
		t.Errorf("err = %v, want a source mismatch", err)
	}
}
