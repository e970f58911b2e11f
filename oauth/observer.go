package oauth

import "time"

// PasswordObserver is told about the password path's events, for a metrics
// exporter to count: throttle blocks and clears, and how long password
// hashes waited for a slot. Its methods must be quick and safe for
// concurrent use. Every place that takes one accepts nil.
type PasswordObserver interface {
	// ThrottleBlocked: a counter of this kind (KindName) reached its limit;
	// its next attempt in the window is refused.
	ThrottleBlocked(kind string)
	// ThrottleCleared: an operator cleared a counter of this kind.
	ThrottleCleared(kind string)
	// PasswordHashWait: a hash waited this long for a slot; outcome is
	// "ok", "queue_full" (refused at once) or "deadline" (gave up).
	PasswordHashWait(wait time.Duration, outcome string)
}
