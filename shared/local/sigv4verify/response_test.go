package sigv4verify_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/mrap-engine/mrap/shared/local/sigv4verify"
)

func TestResponse(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
	}{
		{"a signature the key does not make is S3's 403", fmt.Errorf("verify: %w", &sigv4verify.Error{Code: "SignatureDoesNotMatch", Message: "no"}), http.StatusForbidden, "SignatureDoesNotMatch"},
		{"a request that cannot be checked is 400", errors.New("read body: unexpected EOF"), http.StatusBadRequest, "InvalidRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, code, msg := sigv4verify.Response(tt.err)
			if status != tt.wantStatus || code != tt.wantCode || msg == "" {
				t.Errorf("Response = %d, %q, %q; want %d, %q and a message", status, code, msg, tt.wantStatus, tt.wantCode)
			}
		})
	}
}
