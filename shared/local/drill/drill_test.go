package drill

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/mrap-engine/mrap/shared/local/runtime"
)

func TestRunRefusesAnUnknownRegionBeforeAnyWaiting(t *testing.T) {
	// The control endpoint answers nothing: any waiting or call would fail differently.
	ep := runtime.Endpoints{ControlEndpoint: "http://127.0.0.1:1", GlobalEndpoint: "http://127.0.0.1:1",
		Regions: []runtime.RegionEndpoint{{Region: "us-east-1"}, {Region: "eu-west-1"}}}
	var out bytes.Buffer
	_, err := Run(context.Background(), ep, Options{Region: "nowhere", Out: &out})
	if err == nil || !strings.Contains(err.Error(), `"nowhere" is not a Region of the deployment (its Regions: us-east-1, eu-west-1)`) {
		t.Fatalf("Run --region nowhere: %v", err)
	}
	if out.Len() > 0 {
		t.Errorf("timeline for a refused drill = %q, want nothing", out.String())
	}
}

func TestRunInterruptedBeforeStartMeasuresNothing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ep := runtime.Endpoints{ControlEndpoint: "http://127.0.0.1:1", Regions: []runtime.RegionEndpoint{{Region: "us-east-1"}}}
	var out bytes.Buffer
	rep, err := Run(ctx, ep, Options{Out: &out})
	if err != ErrInterrupted || len(rep.Steps) != 0 || strings.Contains(out.String(), "MISS") {
		t.Fatalf("Run after Ctrl-C: %v, %d steps, timeline:\n%s", err, len(rep.Steps), out.String())
	}
}
