-- 0009_connectors.sql: connectors and identity links (design D14, issue 16).
--
-- A connector is an upstream identity provider (an OpenID Connect provider
-- or an LDAP directory). Its kind-specific settings are one jsonb document,
-- so a kind can gain a setting without a migration; its secret (the OIDC
-- client secret or the LDAP bind password) is sealed with AES-256-GCM under
-- the master secrets, as signing keys are: the database never holds it in
-- the clear. An identity link ties (connector, upstream subject) to one
-- user; its primary key makes concurrent first logins of one upstream
-- identity link (and provision) exactly one user. As in 0001, no foreign
-- keys and no triggers: deleting a user or a connector deletes its links in
-- the same transaction, in the application.

CREATE TABLE connectors (
    id            text        PRIMARY KEY,
    kind          text        NOT NULL,
    name          text        NOT NULL,
    disabled      boolean     NOT NULL DEFAULT false,
    settings      jsonb       NOT NULL,
    secret_enc    bytea,
    provision     boolean     NOT NULL DEFAULT false,
    link_by_email boolean     NOT NULL DEFAULT false,
    roles_claim   text        NOT NULL DEFAULT '',
    role_map      jsonb       NOT NULL DEFAULT '{}',
    email_domains text[]      NOT NULL DEFAULT '{}',
    timeout       bigint      NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

CREATE TABLE identity_links (
    connector_id      text        NOT NULL,
    subject           text        NOT NULL,
    user_id           text        NOT NULL,
    provisioned       boolean     NOT NULL DEFAULT false,
    refresh_token_enc bytea,
    created_at        timestamptz NOT NULL,
    last_login_at     timestamptz NOT NULL,
    PRIMARY KEY (connector_id, subject),
    -- One upstream identity per user and connector: a recycled email at
    -- the provider cannot link a second account to a linked user.
    CONSTRAINT identity_links_connector_user UNIQUE (connector_id, user_id)
);

CREATE INDEX identity_links_user_id ON identity_links (user_id);

-- Link by email looks users up by their exact email.
CREATE INDEX users_email ON users (email) WHERE email <> '';
