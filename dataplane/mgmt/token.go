package mgmt

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// tokenBytes is the API token's entropy.
const tokenBytes = 32

// LoadOrCreateToken returns the API token stored at path, creating it
// (mode 0600, owner only) on first start. A token file readable by group
// or others is refused: anyone reading it controls the cluster.
func LoadOrCreateToken(path string) (string, error) {
	st, err := os.Stat(path)
	if err == nil {
		if st.Mode().Perm()&0o077 != 0 {
			return "", fmt.Errorf("API token %s has mode %04o: accepted 0600 (owner only)", path, st.Mode().Perm())
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("read API token: %w", err)
		}
		tok := strings.TrimSpace(string(b))
		if len(tok) != 2*tokenBytes {
			return "", fmt.Errorf("API token %s is malformed (%d characters, %d expected); delete it to make a new one", path, len(tok), 2*tokenBytes)
		}
		return tok, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("API token: %w", err)
	}
	var b [tokenBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(b[:])
	if err := writeFileSync(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write API token: %w", err)
	}
	return tok, nil
}
