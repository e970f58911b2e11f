package keys_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/keys/keystest"
	"github.com/gatehouse/gatehouse/storage/memory"
)

func TestManagerMemory(t *testing.T) {
	keystest.Run(t, func(t *testing.T) keys.KeyStore { return memory.New() })
}
