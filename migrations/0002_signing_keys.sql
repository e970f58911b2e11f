-- 0002_signing_keys.sql: signing keys shared by every instance (design D6).
--
-- A key moves next (published, not signing) -> active (signing) -> retired
-- (published until the last token it signed has expired) -> deleted. The
-- private key is stored encrypted (AES-256-GCM under the master secret);
-- the store never sees it in the clear. The planned times (activate_at,
-- retire_at, delete_after) drive scheduled rotation; the *_ed columns record
-- when a transition happened. version lets rotation be a compare-and-swap
-- (UPDATE ... WHERE kid = $1 AND version = $2) so that N instances agree.

CREATE TABLE signing_keys (
    kid             text        PRIMARY KEY,
    alg             text        NOT NULL,
    state           text        NOT NULL,
    private_key_enc bytea       NOT NULL,
    -- The public key as a JWK, so that the JWKS is built without decrypting.
    public_jwk      jsonb,
    version         bigint      NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL,
    activate_at     timestamptz,
    activated_at    timestamptz,
    retire_at       timestamptz,
    retired_at      timestamptz,
    delete_after    timestamptz,
    updated_at      timestamptz NOT NULL
);

CREATE INDEX signing_keys_state_idx ON signing_keys (state);
