-- 0003_refresh_families.sql: a refresh-token family is one row (design D3).
--
-- The first schema kept every rotated refresh token as a row, so the table
-- grew with refresh volume, and revoked a family with a multi-row UPDATE
-- that a concurrent rotation could escape by inserting a successor. Now a
-- family is one row holding the digest and generation of its current token;
-- rotation is a compare-and-swap on that row and every revocation writes the
-- same row, so once a revocation commits no rotation of the family succeeds.
--
-- Refresh tokens issued before this migration cannot be carried over (only
-- digests of their HMAC signatures were stored, and the new tokens name
-- their family and generation): they are dropped, and presenting one gets
-- 400 invalid_grant. Users log in again; access tokens and signing keys are
-- unaffected.

DROP TABLE refresh_tokens;

CREATE TABLE refresh_families (
    id              text        PRIMARY KEY,
    client_id       text        NOT NULL,
    -- subject is a user id; subject_version is that user's
    -- credentials_version when the family began.
    subject         text        NOT NULL,
    subject_version bigint      NOT NULL,
    scopes          text[]      NOT NULL DEFAULT '{}',
    audiences       text[]      NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    idle_expires_at timestamptz NOT NULL,
    -- SHA-256 digests: of the secret all the family's tokens share, and of
    -- the current token's own secret. Never the tokens themselves.
    family_digest   bytea       NOT NULL,
    token_digest    bytea       NOT NULL,
    generation      bigint      NOT NULL,
    revoked_at      timestamptz,
    revoked_reason  text        NOT NULL DEFAULT '',
    session         bytea       NOT NULL
) WITH (fillfactor = 80);
-- A rotation changes only unindexed columns, so with free space on the page
-- PostgreSQL updates the row in place (a HOT update) and touches no index.

CREATE INDEX refresh_families_subject_idx ON refresh_families (subject);
CREATE INDEX refresh_families_client_idx  ON refresh_families (client_id);
CREATE INDEX refresh_families_expires_idx ON refresh_families (expires_at);

-- Set when a password is set or the user is disabled: families begun
-- before can no longer rotate, even one created concurrently with the change.
ALTER TABLE users ADD COLUMN credentials_version bigint NOT NULL DEFAULT 0;
