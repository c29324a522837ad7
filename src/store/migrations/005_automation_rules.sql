-- Automation rules (SPEC §7) and the timers of their time triggers.

CREATE TABLE automation_rules (
  -- platform-wide: history rows name the rule by this id (actor_type 'automation_rule')
  id            bigserial PRIMARY KEY,
  location_id   bigint NOT NULL REFERENCES locations (id),
  name          text NOT NULL,
  enabled       boolean NOT NULL DEFAULT true,
  -- checked by the service (src/domain/rules.ts) before it is stored
  trigger       jsonb NOT NULL,
  conditions    jsonb NOT NULL DEFAULT '[]',
  action        jsonb NOT NULL,
  -- the last time a chain through this rule was stopped at the depth bound, and why
  last_error    text,
  last_error_at timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX automation_rules_location_idx ON automation_rules (location_id, id);

-- One pending firing per (time rule, contact): written in the transaction that sets the contact's
-- field or creates, changes or enables the rule; deleted by the transaction that fires it, so each
-- due time fires once, whichever process claims it.
CREATE TABLE rule_timers (
  rule_id    bigint NOT NULL REFERENCES automation_rules (id) ON DELETE CASCADE,
  contact_id bigint NOT NULL REFERENCES contacts (contact_id),
  due_at     timestamptz NOT NULL,
  PRIMARY KEY (rule_id, contact_id)
);
CREATE INDEX rule_timers_due_idx ON rule_timers (due_at);
CREATE INDEX rule_timers_contact_idx ON rule_timers (contact_id);
