-- 0004_login_attempts.sql: login-attempt counters shared by every instance
-- (design D5, D10).
--
-- One row per counter. key is a kind byte and a 16-byte SHA-256 prefix of
-- what is counted (a normalised username, a client address, or both): a
-- fixed 17 bytes, never a username or address in the clear. Each attempt is
-- added with one upsert before the password is hashed, so concurrent
-- requests and instances see distinct counts. lim is the limit the counter
-- served when last added to, so that blocks can be listed. No sequence and
-- no trigger: the table is on the password path.

CREATE TABLE login_attempts (
    key        bytea       PRIMARY KEY,
    count      integer     NOT NULL,
    lim        integer     NOT NULL,
    window_end timestamptz NOT NULL
);

CREATE INDEX login_attempts_window_end_idx ON login_attempts (window_end);
