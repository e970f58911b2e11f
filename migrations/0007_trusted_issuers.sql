-- 0007_trusted_issuers.sql: external issuers an operator trusts (design D14).
--
-- One row per trusted issuer: its exact issuer URL (unique: a token's "iss"
-- finds its row), an optional explicit jwks_uri, the accepted audiences and
-- algorithms, how a token's subject maps to a Gatehouse user or client,
-- where its roles are and the allow-list mapping them to Gatehouse roles,
-- whether an unknown user subject may be provisioned (off by default), and
-- the maximum token age. Durations are bigint nanoseconds. No sequence,
-- no trigger, no foreign key.

CREATE TABLE trusted_issuers (
    id               text        PRIMARY KEY,
    issuer           text        NOT NULL,
    jwks_uri         text        NOT NULL DEFAULT '',
    audiences        text[]      NOT NULL DEFAULT '{}',
    algorithms       text[]      NOT NULL DEFAULT '{}',
    subject_claim    text        NOT NULL DEFAULT '',
    subject_type     text        NOT NULL,
    roles_claim      text        NOT NULL DEFAULT '',
    role_map         jsonb       NOT NULL DEFAULT '{}',
    max_token_age_ns bigint      NOT NULL DEFAULT 0,
    provision        boolean     NOT NULL DEFAULT false,
    disabled         boolean     NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    CONSTRAINT trusted_issuers_issuer_key UNIQUE (issuer)
);
