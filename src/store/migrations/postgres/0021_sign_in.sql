-- Issue 16, people sign in with OpenID Connect (Pro Santé Connect).
--
-- What a signed-in person may do comes from our own grants, not from the provider: an admin
-- grants a role and its scope to an identity (`rpps:<RPPS>` for a professional, whose RPPS
-- Pro Santé Connect returns; `sub:<subject>` for a staff identity of another provider). A grant
-- is a principal row of `tokens`, as a certificate mapping is (its bearer secret is never
-- shown): revoking the row (`cpts token revoke`, `DELETE /grants/{id}`) revokes the grant and
-- ends its sessions at once. One live grant per identity, role and scope.
ALTER TABLE tokens ADD COLUMN oidc_subject TEXT;
CREATE UNIQUE INDEX tokens_oidc_grant ON tokens (oidc_subject, role, scope)
    WHERE oidc_subject IS NOT NULL AND revoked_at IS NULL;

-- A session: the keyed hash of its cookie (never the cookie), the grant it acts under, its
-- CSRF token (sent back in `X-CSRF-Token` on every state-changing request), its expiry.
CREATE TABLE sessions (
    id_hash     TEXT PRIMARY KEY,
    token_id    TEXT NOT NULL REFERENCES tokens (id),
    subject     TEXT NOT NULL,
    csrf        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    ended_at    BIGINT
);
CREATE INDEX sessions_token ON sessions (token_id);

-- A sign-in under way, from /auth/login to /auth/callback: the keyed hash of its `state`, the
-- PKCE verifier and the nonce, and where to go back. Used once; ten minutes at most.
CREATE TABLE oidc_logins (
    state_hash  TEXT PRIMARY KEY,
    verifier    TEXT NOT NULL,
    nonce       TEXT NOT NULL,
    return_to   TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
