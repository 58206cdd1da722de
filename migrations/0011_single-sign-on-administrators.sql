-- Up Migration

-- Administrators who sign in through the organisation's identity provider (DESIGN §11). They are
-- identified by the issuer and the provider's `sub`; `username` stays the one unique handle every
-- administrator has (the audit log's actor, `admin list`, the CLI), taken from the token's
-- preferred_username or email. They have no password here: only a local administrator has one.
ALTER TABLE admins ADD COLUMN source text NOT NULL DEFAULT 'local' CHECK (source IN ('local', 'oidc'));
ALTER TABLE admins ADD COLUMN oidc_issuer text;
ALTER TABLE admins ADD COLUMN oidc_subject text;
ALTER TABLE admins ALTER COLUMN password_hash DROP NOT NULL;
ALTER TABLE admins ADD CONSTRAINT admins_source_credentials CHECK (
  CASE source
    WHEN 'local' THEN password_hash IS NOT NULL AND oidc_issuer IS NULL AND oidc_subject IS NULL
    ELSE password_hash IS NULL AND oidc_issuer IS NOT NULL AND oidc_subject IS NOT NULL
  END
);
ALTER TABLE admins ADD CONSTRAINT admins_oidc_identity UNIQUE (oidc_issuer, oidc_subject);

-- Down Migration
DELETE FROM admins WHERE source = 'oidc';
ALTER TABLE admins DROP CONSTRAINT admins_oidc_identity;
ALTER TABLE admins DROP CONSTRAINT admins_source_credentials;
ALTER TABLE admins ALTER COLUMN password_hash SET NOT NULL;
ALTER TABLE admins DROP COLUMN oidc_subject;
ALTER TABLE admins DROP COLUMN oidc_issuer;
ALTER TABLE admins DROP COLUMN source;
