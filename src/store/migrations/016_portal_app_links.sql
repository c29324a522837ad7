-- Portal links for a partner app made by a staff key or the operator (docs/api.md, "Portal links and
-- sessions"): the session opened by such a link is limited to that app, and is no wider than the key
-- that made it. A staff key's link keeps the key's own scope (read from the key at each request, so
-- revoking it ends the session); the operator's names the scope it opens, held here.
ALTER TABLE portal_links ADD COLUMN app_id text COLLATE "C" REFERENCES apps (id);
ALTER TABLE portal_links ADD COLUMN organization_id bigint;
ALTER TABLE portal_links ADD COLUMN location_id bigint;
ALTER TABLE portal_sessions ADD COLUMN app_id text COLLATE "C" REFERENCES apps (id);
ALTER TABLE portal_sessions ADD COLUMN organization_id bigint;
ALTER TABLE portal_sessions ADD COLUMN location_id bigint;
