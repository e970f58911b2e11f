package postgres

import (
	"testing"

	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/keys/keystest"
)

// Several key managers on one database agree on the keys, rotate once
// between them and survive restarts (design D6, D10).
func TestKeyManagers(t *testing.T) {
	keystest.Run(t, func(t *testing.T) keys.KeyStore { return newStore(t) })
}
