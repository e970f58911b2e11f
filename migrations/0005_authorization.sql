-- 0005_authorization.sql: the authorization code flow with PKCE, the hosted
-- login page and OpenID Connect (design D13).
--
-- authorization_codes holds one row per code: the authorization request,
-- its PKCE challenge and its OpenID Connect parameters, written once when
-- the code is issued. The key is a SHA-256 digest of the code's signature,
-- never the code. A redeemed code is not deleted: active turns false in one
-- conditional UPDATE (... WHERE active), so of two concurrent redemptions
-- exactly one changes the row, and a later second use is recognised and
-- revokes the tokens of the first (RFC 6749 section 4.1.2). The janitor
-- deletes codes some minutes after they expire.
--
-- login_sessions holds the login page's sessions, so that every instance
-- honours them (design D10). id is stable and not secret (an ID token's
-- sid); digest is SHA-256 of the secret id in the browser's cookie and
-- changes when the session is rotated after a login. A code, and the
-- refresh family it begins, record the id of their login session.
--
-- clients gain what browser and native apps need: redirect URIs,
-- post-logout redirect URIs, web origins for CORS, public (no secret, PKCE
-- required) and third_party (consent shown). Existing clients stay
-- confidential and first-party with no redirect URI. users gain optional
-- OpenID Connect profile claims. No sequence, no trigger, no foreign key.

ALTER TABLE clients
    ADD COLUMN redirect_uris             text[]  NOT NULL DEFAULT '{}',
    ADD COLUMN post_logout_redirect_uris text[]  NOT NULL DEFAULT '{}',
    ADD COLUMN web_origins               text[]  NOT NULL DEFAULT '{}',
    ADD COLUMN public                    boolean NOT NULL DEFAULT false,
    ADD COLUMN third_party               boolean NOT NULL DEFAULT false;

ALTER TABLE users
    ADD COLUMN email          text    NOT NULL DEFAULT '',
    ADD COLUMN email_verified boolean NOT NULL DEFAULT false,
    ADD COLUMN name           text    NOT NULL DEFAULT '';

CREATE TABLE authorization_codes (
    digest                bytea       PRIMARY KEY,
    request_id            text        NOT NULL,
    client_id             text        NOT NULL,
    subject               text        NOT NULL,
    requested_scopes      text[]      NOT NULL DEFAULT '{}',
    granted_scopes        text[]      NOT NULL DEFAULT '{}',
    requested_audiences   text[]      NOT NULL DEFAULT '{}',
    granted_audiences     text[]      NOT NULL DEFAULT '{}',
    redirect_uri          text        NOT NULL DEFAULT '',
    code_challenge        text        NOT NULL DEFAULT '',
    code_challenge_method text        NOT NULL DEFAULT '',
    nonce                 text        NOT NULL DEFAULT '',
    auth_time             timestamptz,
    requested_at          timestamptz NOT NULL,
    expires_at            timestamptz NOT NULL,
    session               bytea       NOT NULL,
    active                boolean     NOT NULL,
    login_session_id      text        NOT NULL DEFAULT ''
);

CREATE INDEX authorization_codes_expires_idx ON authorization_codes (expires_at);

CREATE TABLE login_sessions (
    id         text        PRIMARY KEY,
    digest     bytea       NOT NULL,
    user_id    text        NOT NULL,
    auth_time  timestamptz NOT NULL,
    amr        text[]      NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    CONSTRAINT login_sessions_digest_key UNIQUE (digest)
);

CREATE INDEX login_sessions_user_idx    ON login_sessions (user_id);
CREATE INDEX login_sessions_expires_idx ON login_sessions (expires_at);

-- A refresh family begun by a code records the login session of that
-- code, so that logout can revoke the session's grants (OIDC RP-Initiated
-- Logout 1.0 with Gatehouse's option). Password-grant families have none
-- and stay out of the partial index.
ALTER TABLE refresh_families ADD COLUMN login_session_id text NOT NULL DEFAULT '';
CREATE INDEX refresh_families_login_session_idx ON refresh_families (login_session_id)
    WHERE login_session_id <> '';
