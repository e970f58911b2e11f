package keys_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"time"

	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/storage/memory"
)

func ExampleRing() {
	ring, err := keys.NewEphemeralRing(keys.ES256)
	if err != nil {
		log.Fatal(err)
	}
	token, err := ring.SignAccessToken([]byte(`{"sub":"user-42","scope":"read"}`))
	if err != nil {
		log.Fatal(err)
	}
	v, err := ring.Verify(token)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Type, string(v.Payload), v.KeyID == ring.Set().Active.ID)

	var jwks struct {
		Keys []map[string]any `json:"keys"`
	}
	json.Unmarshal(ring.JWKS(), &jwks)
	_, private := jwks.Keys[0]["d"]
	fmt.Println(len(jwks.Keys), jwks.Keys[0]["alg"], jwks.Keys[0]["use"], private)
	// Output:
	// at+jwt {"sub":"user-42","scope":"read"} true
	// 2 ES256 sig false
}

func ExampleManager() {
	ctx := context.Background()
	secrets, err := keys.ParseSecrets([]string{"base64:q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4k="})
	if err != nil {
		log.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	store := memory.New() // production: the PostgreSQL store
	opts := keys.Options{Secrets: secrets, Now: func() time.Time { return now }, JWKSMaxAge: 5 * time.Minute}
	m, err := keys.Open(ctx, store, opts) // first start: an active and a next key
	if err != nil {
		log.Fatal(err)
	}
	token, _ := m.Ring().SignAccessToken([]byte(`{"sub":"a"}`))

	r, _ := m.Rotate(ctx) // the next key is not published long enough yet
	fmt.Println("pending:", r.Pending, "at", r.At.Format(time.TimeOnly))
	now = now.Add(10 * time.Minute)
	m.Refresh(ctx) // what Run does every RefreshInterval: carries out the rotation

	for _, k := range must(m.List(ctx)) {
		if k.Algorithm != keys.RS256 { // the RS256 line signs ID tokens
			fmt.Println(k.State, k.Published)
		}
	}
	_, err = m.Ring().Verify(token) // the retired key still verifies
	fmt.Println(err)
	// Unordered output:
	// pending: true at 00:06:10
	// retired true
	// active true
	// next true
	// <nil>
}

func must[T any](v T, err error) T {
	if err != nil {
		log.Fatal(err)
	}
	return v
}
