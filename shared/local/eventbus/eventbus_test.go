package eventbus

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mrap-engine/mrap/events"
)

const auth = "AWS4-HMAC-SHA256 Credential=AKID/20261202/eu-west-1/events/aws4_request, SignedHeaders=host, Signature=x"

func put(t *testing.T, h *Handler, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	req.Header.Set("X-Amz-Target", Target)
	req.Header.Set("Authorization", auth)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return rec.Code, out
}

func TestAcceptedEntryIsDeliveredAsTheEnvelopeEventBridgeMakes(t *testing.T) {
	var got []string
	h := &Handler{Account: "123456789012", Deliver: func(region string, ev []byte) { got = append(got, region+" "+string(ev)) }}
	code, out := put(t, h, `{"Entries":[{"Source":"mrap.engine","DetailType":"MRAP Routing Command","Detail":"{\"action\":\"failback\",\"commandId\":\"c-1\"}","EventBusName":"default","Time":1764640800.5}]}`)
	if code != http.StatusOK || out["FailedEntryCount"] != 0.0 || len(got) != 1 || !strings.HasPrefix(got[0], "eu-west-1 ") {
		t.Fatalf("status %d, answer %v, delivered %q", code, out, got)
	}
	ev, err := events.ParseRoutingCommand([]byte(strings.TrimPrefix(got[0], "eu-west-1 ")))
	if err != nil {
		t.Fatal(err)
	}
	id := out["Entries"].([]any)[0].(map[string]any)["EventId"]
	if ev.ID != id || ev.AccountID != "123456789012" || ev.Region != "eu-west-1" || ev.Version != "0" ||
		!ev.Time.Equal(time.Unix(1764640800, 0)) || ev.Detail.CommandID != "c-1" || ev.Resources == nil {
		t.Errorf("envelope %+v (event id %v)", ev, id)
	}
}

func TestBadEntriesFailAloneAndAreNotDelivered(t *testing.T) {
	delivered := 0
	h := &Handler{Account: "123456789012", Deliver: func(string, []byte) { delivered++ }}
	_, out := put(t, h, `{"Entries":[
		{"Source":"mrap.engine","DetailType":"t","Detail":"{}"},
		{"Source":"mrap.engine","DetailType":"t","Detail":"not json"},
		{"Source":"mrap.engine","DetailType":"t","Detail":"{}","EventBusName":"other"},
		{"DetailType":"t","Detail":"{}"}]}`)
	entries := out["Entries"].([]any)
	if out["FailedEntryCount"] != 3.0 || len(entries) != 4 || delivered != 1 {
		t.Fatalf("answer %v, delivered %d", out, delivered)
	}
	for i, want := range []string{"", "MalformedDetail", "InvalidArgument", "InvalidArgument"} {
		if code, _ := entries[i].(map[string]any)["ErrorCode"].(string); code != want {
			t.Errorf("entry %d: error code %q, want %q", i, code, want)
		}
	}
}

func TestRequestsThatAreNotPutEventsAreRefused(t *testing.T) {
	h := &Handler{Deliver: func(string, []byte) { t.Error("delivered") }}
	for name, req := range map[string]*http.Request{
		"another operation": func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{}`))
			r.Header.Set("X-Amz-Target", "AWSEvents.PutRule")
			r.Header.Set("Authorization", auth)
			return r
		}(),
		"unsigned": func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"Entries":[{"Source":"s","DetailType":"t","Detail":"{}"}]}`))
			r.Header.Set("X-Amz-Target", Target)
			return r
		}(),
		"no entries": func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"Entries":[]}`))
			r.Header.Set("X-Amz-Target", Target)
			r.Header.Set("Authorization", auth)
			return r
		}(),
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code < 400 {
			t.Errorf("%s: status %d", name, rec.Code)
		}
	}
}
