package main

import (
	"crypto/rand"
	"crypto/subtle"
	"net/http"
	"runtime"

	"golang.org/x/crypto/argon2"
)

// The baseline's one resource owner, as public as its client.
const (
	baselineUsername = "baseline-user"
	baselinePassword = "baseline-password-for-benchmarks-only"
)

// Gatehouse's default argon2id cost (oauth.PasswordParams): 12 MiB, three
// passes, one lane, 32-byte key.
const (
	baselineArgonMemoryKiB = 12 * 1024
	baselineArgonTime      = 3
	baselineArgonThreads   = 1
	baselineArgonKeyLen    = 32
)

// argonAlone is "argon2id alone" for the password grant: one argon2id
// hash at Gatehouse's default cost per request, at most one per CPU at a
// time (more only adds memory, not throughput), then the same ES256 token.
// Gatehouse's password grant is measured against it.
type argonAlone struct {
	salt, key []byte
	slots     chan struct{}
}

func newArgonAlone() *argonAlone {
	salt := make([]byte, 16)
	rand.Read(salt)
	return &argonAlone{
		salt:  salt,
		key:   argon2.IDKey([]byte(baselinePassword), salt, baselineArgonTime, baselineArgonMemoryKiB, baselineArgonThreads, baselineArgonKeyLen),
		slots: make(chan struct{}, runtime.NumCPU()),
	}
}

func (a *argonAlone) verify(password string) bool {
	a.slots <- struct{}{}
	key := argon2.IDKey([]byte(password), a.salt, baselineArgonTime, baselineArgonMemoryKiB, baselineArgonThreads, baselineArgonKeyLen)
	<-a.slots
	return subtle.ConstantTimeCompare(key, a.key) == 1
}

// password serves the password grant (RFC 6749 section 4.3) for the one
// baseline user: the hash, then the token.
func (b *baseline) password(w http.ResponseWriter, r *http.Request, clientID string) {
	if r.PostForm.Get("username") != baselineUsername || !b.argon.verify(r.PostForm.Get("password")) {
		oauthError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	b.issue(w, clientID, "baseline-user-id", b.audiences, []string{"user"}, "read")
}
