-- 0001_init.sql: clients, users, refresh-token families and the access-token
-- deny list.
--
-- Every primary key is a text value chosen by the application: no sequences,
-- no identity columns, no triggers and no foreign keys, so that the
-- refresh-token and deny-list tables can later move to a Postgres-compatible
-- distributed SQL engine (design D10). Durations are bigint nanoseconds
-- (Go's time.Duration); string lists are text[]; timestamps are timestamptz.

CREATE TABLE clients (
    id                         text        PRIMARY KEY,
    name                       text        NOT NULL DEFAULT '',
    secret_hash                bytea,
    previous_secret_hash       bytea,
    previous_secret_expires_at timestamptz,
    grant_types                text[]      NOT NULL DEFAULT '{}',
    scopes                     text[]      NOT NULL DEFAULT '{}',
    audiences                  text[]      NOT NULL DEFAULT '{}',
    roles                      text[]      NOT NULL DEFAULT '{}',
    claims                     jsonb       NOT NULL DEFAULT '{}',
    token_lifetime_ns          bigint      NOT NULL DEFAULT 0,
    disabled                   boolean     NOT NULL DEFAULT false,
    created_at                 timestamptz NOT NULL,
    updated_at                 timestamptz NOT NULL
);

-- Client names are unique when set.
CREATE UNIQUE INDEX clients_name_key ON clients (name) WHERE name <> '';

CREATE TABLE users (
    id            text        PRIMARY KEY,
    -- The caller normalises usernames (case folding, NFC); the database
    -- compares them exactly.
    username      text        NOT NULL,
    password_hash text        NOT NULL,
    roles         text[]      NOT NULL DEFAULT '{}',
    disabled      boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    CONSTRAINT users_username_key UNIQUE (username)
);

-- One row per refresh token; rotated tokens stay, inactive, until they
-- expire so that their reuse is detected (RFC 9700 section 4.14.2).
CREATE TABLE refresh_tokens (
    -- signature is a digest of the token, never the token itself.
    signature         text        PRIMARY KEY,
    family_id         text        NOT NULL,
    client_id         text        NOT NULL,
    subject           text        NOT NULL,
    active            boolean     NOT NULL,
    requested_at      timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL,
    family_created_at timestamptz NOT NULL,
    request           bytea       NOT NULL
);

CREATE INDEX refresh_tokens_family_idx  ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_subject_idx ON refresh_tokens (subject);
CREATE INDEX refresh_tokens_client_idx  ON refresh_tokens (client_id);
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);

-- Revoked access-token ids (jti values and refresh family ids), kept until
-- the tokens that carry them expire (design D2).
CREATE TABLE deny_list (
    id         text        PRIMARY KEY,
    expires_at timestamptz NOT NULL
);

CREATE INDEX deny_list_expires_idx ON deny_list (expires_at);
