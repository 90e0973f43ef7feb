-- Issue 16, machine clients over mutual TLS. A client certificate's subject (its CN and OU,
-- as the SAS platform checks them) maps to the principal of a token row, which gives its role
-- and scope; the row's bearer secret is never shown (`cpts cert map`). Revoking the row
-- (`cpts token revoke`) revokes the mapping. One active principal per subject.
ALTER TABLE tokens ADD COLUMN cert_cn TEXT;
ALTER TABLE tokens ADD COLUMN cert_ou TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX tokens_certificate ON tokens (cert_cn, cert_ou)
    WHERE cert_cn IS NOT NULL AND revoked_at IS NULL;
