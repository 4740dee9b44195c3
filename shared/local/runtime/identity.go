package runtime

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Identity is the local account, credentials and access point, created on first start and
// kept in DATA/identity.json so clients keep working across restarts.
type Identity struct {
	AccountID       string `json:"account_id"`
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
	Alias           string `json:"mrap_alias"`
}

// ARN returns the access point ARN, arn:aws:s3::ACCOUNT:accesspoint/ALIAS.
func (id Identity) ARN() string {
	return "arn:aws:s3::" + id.AccountID + ":accesspoint/" + id.Alias
}

// DefaultAccountID is the account id of a new local deployment.
const DefaultAccountID = "123456789012"

func loadIdentity(dir string) (Identity, error) {
	path := filepath.Join(dir, "identity.json")
	var id Identity
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &id); err != nil {
			return id, fmt.Errorf("read %s: %w (delete it to start a new identity)", path, err)
		}
		if id.AccountID != "" && id.AccessKeyID != "" && id.SecretAccessKey != "" && id.Alias != "" {
			return id, nil
		}
	case !errors.Is(err, os.ErrNotExist):
		return id, fmt.Errorf("read identity: %w", err)
	}
	id = Identity{
		AccountID:       DefaultAccountID,
		AccessKeyID:     "AKIALOCAL" + randString(11, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
		SecretAccessKey: randString(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
		Alias:           randString(13, "abcdefghijklmnopqrstuvwxyz") + ".mrap",
	}
	b, _ = json.MarshalIndent(id, "", "  ")
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return id, fmt.Errorf("write identity: %w", err)
	}
	return id, nil
}

func randString(n int, alphabet string) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
