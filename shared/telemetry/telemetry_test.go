package telemetry

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func TestEmitWritesEMF(t *testing.T) {
	var buf bytes.Buffer
	m := NewMetrics(&buf, "")
	m.now = func() time.Time { return time.UnixMilli(1700000000123) }
	m.Emit(map[string]string{"Region": "us-east-1", "Reason": "duplicate"},
		Metric{Name: "Skipped", Unit: Count, Value: 1},
		Metric{Name: "ReplicationLatency", Unit: Milliseconds, Value: 250})

	var doc struct {
		AWS struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
		Region             string
		Reason             string
		Skipped            float64
		ReplicationLatency float64
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("not JSON: %v: %s", err, buf.String())
	}
	if buf.Bytes()[buf.Len()-1] != '\n' {
		t.Errorf("line not terminated")
	}
	cw := doc.AWS.CloudWatchMetrics
	if doc.AWS.Timestamp != 1700000000123 || len(cw) != 1 || cw[0].Namespace != DefaultNamespace {
		t.Fatalf("envelope = %+v", doc.AWS)
	}
	if got := cw[0].Dimensions; len(got) != 1 || len(got[0]) != 2 || got[0][0] != "Reason" || got[0][1] != "Region" {
		t.Errorf("dimensions = %v, want [[Reason Region]]", got)
	}
	if len(cw[0].Metrics) != 2 || cw[0].Metrics[1].Unit != Milliseconds {
		t.Errorf("metrics = %+v", cw[0].Metrics)
	}
	if doc.Region != "us-east-1" || doc.Skipped != 1 || doc.ReplicationLatency != 250 {
		t.Errorf("values = %+v", doc)
	}
}

func TestEmitNilAndEmpty(t *testing.T) {
	var m *Metrics
	m.Emit(nil, Metric{Name: "X", Value: 1}) // must not panic
	var buf bytes.Buffer
	NewMetrics(&buf, "ns").Emit(nil)
	if buf.Len() != 0 {
		t.Errorf("empty emit wrote %q", buf.String())
	}
}
