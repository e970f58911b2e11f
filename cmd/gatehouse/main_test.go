package main

import (
	"testing"

	"github.com/gatehouse/gatehouse/storage/postgres/pgtest"
)

// TestMain gives the package's PostgreSQL tests a throwaway cluster (or
// the server named by GATEHOUSE_TEST_DATABASE_URL) and removes it after.
func TestMain(m *testing.M) { pgtest.Main(m) }
