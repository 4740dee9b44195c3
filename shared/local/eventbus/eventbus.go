// Package eventbus is the local stand-in for EventBridge PutEvents on the default bus of each
// Region: it speaks the API's wire format (JSON 1.1, X-Amz-Target AWSEvents.PutEvents), turns
// every entry into the envelope EventBridge delivers to a rule's target (version, id, account,
// time to the second, the Region of the request's SigV4 scope) and hands it to Deliver.
// Delivery is not the put's business: as on AWS, an accepted entry has an event id whether or
// not anything consumes it.
package eventbus

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"time"

	"github.com/mrap-engine/mrap/events"
)

// Target is the PutEvents operation's X-Amz-Target.
const Target = "AWSEvents.PutEvents"

// maxEntries is the most entries one PutEvents request may carry.
const maxEntries = 10

// Handler serves PutEvents. Account is the envelope's account; Deliver receives each
// accepted event with the Region of the bus it was put on; Now is the clock (default
// time.Now).
type Handler struct {
	Account string
	Deliver func(region string, event []byte)
	Now     func() time.Time
}

// Entry is one PutEventsRequestEntry as it travels on the wire.
type Entry struct {
	Source       string   `json:"Source"`
	DetailType   string   `json:"DetailType"`
	Detail       string   `json:"Detail"`
	EventBusName string   `json:"EventBusName,omitempty"`
	Resources    []string `json:"Resources,omitempty"`
	// Time is epoch seconds (JSON 1.1 timestamps); zero is the time of the put.
	Time float64 `json:"Time,omitempty"`
}

// ResultEntry is one entry of the PutEvents response: an event id, or an error.
type ResultEntry struct {
	EventID      string `json:"EventId,omitempty"`
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
}

var scope = regexp.MustCompile(`Credential=[^/]+/\d{8}/([^/]+)/events/aws4_request`)

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.Header.Get("X-Amz-Target") != Target {
		writeError(w, http.StatusBadRequest, "UnknownOperationException", "only "+Target+" is served here")
		return
	}
	m := scope.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		writeError(w, http.StatusForbidden, "MissingAuthenticationTokenException", "request is not signed for the events service")
		return
	}
	region := m[1]
	var in struct{ Entries []Entry }
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(body, &in)
	}
	if err != nil || len(in.Entries) == 0 || len(in.Entries) > maxEntries {
		writeError(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf("want 1 to %d entries in a JSON body", maxEntries))
		return
	}
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	out := struct {
		FailedEntryCount int
		Entries          []ResultEntry
	}{}
	var accepted [][]byte
	for _, e := range in.Entries {
		ev, res := h.envelope(e, region, now())
		if res.ErrorCode != "" {
			out.FailedEntryCount++
		} else {
			accepted = append(accepted, ev)
		}
		out.Entries = append(out.Entries, res)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out)
	for _, ev := range accepted {
		if h.Deliver != nil {
			h.Deliver(region, ev)
		}
	}
}

// envelope is the event EventBridge makes of e on the default bus of region.
func (h *Handler) envelope(e Entry, region string, now time.Time) ([]byte, ResultEntry) {
	switch {
	case e.EventBusName != "" && e.EventBusName != "default" && e.EventBusName != "arn:aws:events:"+region+":"+h.Account+":event-bus/default":
		return nil, ResultEntry{ErrorCode: "InvalidArgument", ErrorMessage: "only the default event bus is served, got " + e.EventBusName}
	case e.Source == "" || e.DetailType == "" || e.Detail == "":
		return nil, ResultEntry{ErrorCode: "InvalidArgument", ErrorMessage: "Source, DetailType and Detail are required"}
	case !json.Valid([]byte(e.Detail)):
		return nil, ResultEntry{ErrorCode: "MalformedDetail", ErrorMessage: "Detail is not valid JSON"}
	}
	at := now
	if e.Time != 0 {
		sec, frac := math.Modf(e.Time)
		at = time.Unix(int64(sec), int64(frac*1e9))
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	ev := events.Event{
		Envelope: events.Envelope{Version: "0", ID: hex.EncodeToString(id), DetailType: e.DetailType, Source: e.Source,
			AccountID: h.Account, Time: at.UTC().Truncate(time.Second), Region: region, Resources: e.Resources},
		Detail: json.RawMessage(e.Detail),
	}
	if ev.Resources == nil {
		ev.Resources = []string{}
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return nil, ResultEntry{ErrorCode: "InternalException", ErrorMessage: err.Error()}
	}
	return b, ResultEntry{EventID: ev.ID}
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}
