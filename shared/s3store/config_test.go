package s3store

import (
	"strings"
	"testing"

	sharedconfig "github.com/mrap-engine/mrap/shared/config"
)

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name       string
		env        map[string]string
		wantErr    string
		sameSvc    bool
		trailers   bool
		unguarded  bool
		wantMember int
	}{
		{name: "AWS: no endpoints, server-side copies, trailers", env: map[string]string{"MRAP_MEMBERS": "us-east-1=a,eu-west-1=b"}, sameSvc: true, trailers: true, wantMember: 2},
		{name: "local Regions: streaming, no trailers over plain HTTP", env: map[string]string{"MRAP_MEMBERS": "us-east-1=a,eu-west-1=b", "MRAP_ENDPOINTS": "us-east-1=http://127.0.0.1:1,eu-west-1=http://127.0.0.1:2"}, wantMember: 2},
		{name: "HTTPS endpoints keep trailers", env: map[string]string{"MRAP_MEMBERS": "us-east-1=a,eu-west-1=b", "MRAP_ENDPOINTS": "us-east-1=https://x,eu-west-1=https://y"}, trailers: true, wantMember: 2},
		{name: "an endpoint for only some Regions", env: map[string]string{"MRAP_MEMBERS": "us-east-1=a,eu-west-1=b", "MRAP_ENDPOINTS": "us-east-1=http://x"}, wantErr: "every member Region or for none"},
		{name: "a KMS key for a Region that is not a member", env: map[string]string{"MRAP_MEMBERS": "us-east-1=a,eu-west-1=b", "MRAP_KMS_KEYS": "ap-south-1=k"}, wantErr: `MRAP_KMS_KEYS: "ap-south-1" is not a member Region`},
		{name: "MRAP_UNGUARDED_WRITES selects the write-then-verify path", env: map[string]string{"MRAP_MEMBERS": "us-east-1=a,eu-west-1=b", "MRAP_UNGUARDED_WRITES": "true"}, sameSvc: true, trailers: true, unguarded: true, wantMember: 2},
		{name: "MRAP_UNGUARDED_WRITES not a boolean", env: map[string]string{"MRAP_MEMBERS": "us-east-1=a,eu-west-1=b", "MRAP_UNGUARDED_WRITES": "sometimes"}, wantErr: "MRAP_UNGUARDED_WRITES"},
		{name: "zero attempts", env: map[string]string{"MRAP_MEMBERS": "us-east-1=a,eu-west-1=b", "MRAP_MAX_ATTEMPTS": "0"}, wantErr: "MRAP_MAX_ATTEMPTS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := sharedconfig.FromMap(tt.env)
			c := LoadConfig(env)
			err := env.Err()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := len(c.Members); got != tt.wantMember || c.Store.SameService != tt.sameSvc || c.Store.TrustNotFound != tt.sameSvc || c.Store.TrailingChecksums != tt.trailers || c.Store.UnguardedWrites != tt.unguarded || c.MaxAttempts != 5 {
				t.Errorf("config = %+v", c)
			}
		})
	}
}
