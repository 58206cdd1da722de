-- Up Migration

-- Administrators' roles (DESIGN §11). Everyone who could sign in before could do everything, so
-- existing administrators and tokens become `system`.
ALTER TABLE admins ADD COLUMN role text NOT NULL DEFAULT 'system'
  CHECK (role IN ('system', 'helpdesk', 'auditor'));

-- A token is either an /api token with a role, or a SCIM token (role NULL), never both.
ALTER TABLE api_tokens ADD COLUMN kind text NOT NULL DEFAULT 'api' CHECK (kind IN ('api', 'scim'));
ALTER TABLE api_tokens ADD COLUMN role text DEFAULT 'system'
  CHECK (role IN ('system', 'helpdesk', 'auditor'));
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_kind_role CHECK ((kind = 'api') = (role IS NOT NULL));

-- Down Migration
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_kind_role;
ALTER TABLE api_tokens DROP COLUMN role;
ALTER TABLE api_tokens DROP COLUMN kind;
ALTER TABLE admins DROP COLUMN role;
