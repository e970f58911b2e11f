package memory_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/memory"
	"github.com/gatehouse/gatehouse/storage/storagetest"
)

func TestKeyStoreConformance(t *testing.T) {
	storagetest.RunKeyStore(t, func(t *testing.T) storage.KeyStore { return memory.New() })
}
