-- 0006_assertions.sql: assertions already used (design D14).
--
-- used_assertions holds one row per JWT Gatehouse accepted as an assertion
-- (the JWT bearer grant's, a private_key_jwt client's, a token exchange's
-- subject token) until that JWT expires, so a replayed "jti" is refused
-- (RFC 7523 section 3). The key is a SHA-256 digest of the kind, the
-- issuer and the jti. A use is one INSERT ... ON CONFLICT that replaces
-- only an expired row, so of concurrent uses exactly one inserts. The
-- janitor deletes expired rows. No sequence, no trigger.

CREATE TABLE used_assertions (
    digest     bytea       PRIMARY KEY,
    expires_at timestamptz NOT NULL
);

CREATE INDEX used_assertions_expires_at ON used_assertions (expires_at);
