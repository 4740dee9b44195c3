// Package telemetry is the engine's one metrics emitter (CloudWatch Embedded Metric Format
// lines) and its one logger constructor.
package telemetry

import (
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// DefaultNamespace is the CloudWatch namespace of every engine metric.
const DefaultNamespace = "MRAPEngine"

// Units used by the engine's metrics.
const (
	Count        = "Count"
	Milliseconds = "Milliseconds"
	Bytes        = "Bytes"
	None         = "None"
)

// Metric is one named value.
type Metric struct {
	Name  string
	Unit  string
	Value float64
}

// Metrics writes EMF lines to w (stdout in Lambda, where CloudWatch extracts them).
type Metrics struct {
	mu        sync.Mutex
	w         io.Writer
	namespace string
	now       func() time.Time
}

// NewMetrics returns an emitter writing to w under namespace (DefaultNamespace when empty).
func NewMetrics(w io.Writer, namespace string) *Metrics {
	if namespace == "" {
		namespace = DefaultNamespace
	}
	return &Metrics{w: w, namespace: namespace, now: time.Now}
}

// Emit writes one EMF line carrying metrics under the given dimensions. A nil *Metrics
// discards everything, so callers need no guard.
func (m *Metrics) Emit(dims map[string]string, metrics ...Metric) {
	if m == nil || len(metrics) == 0 {
		return
	}
	names := slices.Sorted(maps.Keys(dims))
	defs := make([]map[string]string, 0, len(metrics))
	doc := make(map[string]any, len(dims)+len(metrics)+1)
	for _, k := range names {
		doc[k] = dims[k]
	}
	for _, mt := range metrics {
		unit := mt.Unit
		if unit == "" {
			unit = None
		}
		defs = append(defs, map[string]string{"Name": mt.Name, "Unit": unit})
		doc[mt.Name] = mt.Value
	}
	dimSets := [][]string{}
	if len(names) > 0 {
		dimSets = append(dimSets, names)
	}
	doc["_aws"] = map[string]any{
		"Timestamp": m.now().UnixMilli(),
		"CloudWatchMetrics": []map[string]any{{
			"Namespace":  m.namespace,
			"Dimensions": dimSets,
			"Metrics":    defs,
		}},
	}
	line, err := json.Marshal(doc)
	if err != nil {
		return // only float NaN/Inf can fail; a lost data point is better than a failed handler
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, _ = m.w.Write(append(line, '\n'))
}

// NewLogger returns the JSON logger of a Lambda function: slog with the request id of each
// invocation, level from AWS_LAMBDA_LOG_LEVEL.
func NewLogger() *slog.Logger {
	return lambdacontext.NewLogger()
}

// Discard is a logger that drops everything, for tests and quiet tools.
func Discard() *slog.Logger {
	return slog.New(slog.DiscardHandler)
}
