package admin

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/memory"
)

// TestRenormalizeUsernames moves users stored in the old form (NFC, lower
// case) to the case-folded one, reports a rename that would collide, and
// finds nothing to do the second time.
func TestRenormalizeUsernames(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	svc := newService(t, store, time.Now, &syncBuffer{})
	for _, u := range []storage.User{
		{ID: "u-1", Username: "stra\u00dfe"},   // old form of Straße
		{ID: "u-2", Username: "gro\u00dfmann"}, // old form, and ...
		{ID: "u-3", Username: "grossmann"},     // ... someone already holds the new one
		{ID: "u-4", Username: "alice"},         // already in the new form
	} {
		if err := store.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	got, err := svc.RenormalizeUsernames(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []Renamed{{ID: "u-1", From: "stra\u00dfe", To: "strasse"}, {ID: "u-2", From: "gro\u00dfmann", To: "grossmann", Conflict: true}}
	if len(got) != len(want) {
		t.Fatalf("RenormalizeUsernames = %+v; want %+v", got, want)
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			t.Errorf("RenormalizeUsernames = %+v; want %+v among them", got, w)
		}
	}
	if u, err := svc.GetUserByUsername(ctx, "STRASSE"); err != nil || u.ID != "u-1" {
		t.Errorf("GetUserByUsername(STRASSE) after the rename = %+v, %v; want u-1", u, err)
	}
	again, err := svc.RenormalizeUsernames(ctx)
	if err != nil || len(again) != 1 || !again[0].Conflict {
		t.Errorf("second run = %+v, %v; want only the unresolved conflict", again, err)
	}
}
