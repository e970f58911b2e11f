package oauth

import (
	"testing"
	"time"
)

func TestThrottle(t *testing.T) {
	th := newThrottle()
	now := time.Unix(1_000_000, 0)
	for i := range th.maxUser {
		if b, _ := th.blocked(now, "alice", "10.0.0.1"); b {
			t.Fatalf("blocked after %d failures; want %d allowed", i, th.maxUser)
		}
		th.fail(now, "alice", "10.0.0.1")
	}
	if b, wait := th.blocked(now, "alice", "10.0.0.2"); !b || wait <= 0 || wait > th.window {
		t.Fatalf("blocked(alice) after %d failures = %v, %v; want true and a wait within the window", th.maxUser, b, wait)
	}
	if b, _ := th.blocked(now, "bob", "10.0.0.2"); b {
		t.Fatal("another user from another address is blocked")
	}
	if b, _ := th.blocked(now.Add(th.window), "alice", "10.0.0.2"); b {
		t.Fatal("still blocked after the window")
	}

	// Many usernames from one address trip the address limit.
	for i := range th.maxAddr {
		th.fail(now, string(rune('a'+i%26))+string(rune('0'+i/26)), "10.9.9.9")
	}
	if b, _ := th.blocked(now, "fresh-user", "10.9.9.9"); !b {
		t.Fatal("address limit not applied")
	}

	// A success clears the user's count.
	th2 := newThrottle()
	for range th2.maxUser - 1 {
		th2.fail(now, "carol", "10.0.0.3")
	}
	th2.succeed("carol")
	th2.fail(now, "carol", "10.0.0.4")
	if b, _ := th2.blocked(now, "carol", "10.0.0.4"); b {
		t.Fatal("a successful login did not reset the count")
	}

	// Memory stays bounded.
	th3 := newThrottle()
	th3.capacity = 10
	for i := range 100 {
		th3.fail(now.Add(time.Duration(i)*time.Second), string(rune('A'+i%50))+string(rune('a'+i/50)), "10.0.0.5")
	}
	if len(th3.entries) > th3.capacity {
		t.Fatalf("throttle holds %d entries; capacity %d", len(th3.entries), th3.capacity)
	}
}
