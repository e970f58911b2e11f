-- 0008_client_keys.sql: clients that authenticate with private_key_jwt
-- (RFC 7523 section 2.2, OIDC Core 1.0 section 9; design D4, D14).
--
-- auth_method is '' for the secret methods (client_secret_basic and
-- client_secret_post, as before) or 'private_key_jwt'. Such a client has
-- no secret digest; it registers either jwks (a JWK Set of public keys, as
-- JSON text exactly as validated, so it reads back byte for byte) or
-- jwks_uri (fetched by the server), and the JWS algorithms its assertions
-- may use. Existing clients keep the secret method. No sequence, no
-- trigger, no foreign key.

ALTER TABLE clients
    ADD COLUMN auth_method       text   NOT NULL DEFAULT '',
    ADD COLUMN jwks              text   NOT NULL DEFAULT '',
    ADD COLUMN jwks_uri          text   NOT NULL DEFAULT '',
    ADD COLUMN auth_signing_algs text[] NOT NULL DEFAULT '{}';
