import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { requireRole } from '../../domain/principal.js';
import { checkRule, type RuleDefinition } from '../../domain/rules.js';
import { notFound, unprocessable } from '../../errors.js';
import {
  createRule,
  deleteRule,
  getRule,
  listRules,
  scheduleRule,
  updateRule,
  type StoredRule,
} from '../../store/automation-rules.js';
import type { Queryable } from '../../store/db.js';
import { existingSubGroups } from '../../store/sub-groups.js';
import type { Location } from '../../store/tenants.js';
import { auditScopeOfLocation, recordAudit } from '../audit.js';
import { visibleLocation, type ApiDeps } from '../context.js';
import { Id, LocationParams } from '../schemas.js';

const Name = Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' });

// The envelope is checked here; trigger, conditions and action are checked by checkRule, which
// names the exact field (`trigger.op`, `conditions[1].value`) where a schema union could not.
const ruleFields = {
  name: Name,
  enabled: Type.Boolean(),
  trigger: Type.Unknown(),
  conditions: Type.Array(Type.Unknown()),
  action: Type.Unknown(),
};
const CreateRuleBody = Type.Object(
  {
    name: ruleFields.name,
    enabled: Type.Optional(ruleFields.enabled),
    trigger: ruleFields.trigger,
    conditions: Type.Optional(ruleFields.conditions),
    action: ruleFields.action,
  },
  { additionalProperties: false },
);
const PatchRuleBody = Type.Object(
  Object.fromEntries(Object.entries(ruleFields).map(([k, v]) => [k, Type.Optional(v)])) as {
    [K in keyof typeof ruleFields]: Type.TOptional<(typeof ruleFields)[K]>;
  },
  { additionalProperties: false },
);
const RuleParams = Type.Object({ locationId: Id, ruleId: Id });

const view = ({ id, ...rest }: StoredRule) => ({ ruleId: id, ...rest });

/** A sub-group the action sets must exist at the rule's location. */
async function assertActionRefs(q: Queryable, loc: Location, def: RuleDefinition): Promise<void> {
  const sg = def.action.set.subGroupId;
  if (sg != null && (await existingSubGroups(q, loc.id, [sg])).length === 0) {
    throw unprocessable('action.set.subGroupId', `sub-group ${sg} does not exist at location ${loc.id}`);
  }
}

/** The rule, if it belongs to a location the caller sees and may manage; 404 or 403 otherwise. */
async function manageableRule(
  q: Queryable,
  req: FastifyRequest,
  locationId: number,
  ruleId: number,
  forUpdate = false,
): Promise<{ loc: Location; rule: StoredRule }> {
  const loc = await visibleLocation(q, req, locationId);
  const rule = await getRule(q, ruleId, { forUpdate });
  if (!rule || rule.locationId !== loc.id) throw notFound(`automation rule ${ruleId} at location ${loc.id}`);
  requireRole(req.principal, 'staff');
  return { loc, rule };
}

/** Records a change to a rule of `loc`, in the location's scope. */
const auditRule = (
  tx: Queryable,
  req: FastifyRequest,
  action: string,
  loc: Location,
  ruleId: number,
  details: Record<string, unknown>,
) =>
  recordAudit(tx, req, {
    action,
    targetType: 'automation_rule',
    targetId: ruleId,
    ...auditScopeOfLocation(loc),
    details,
  });

/**
 * Automation rules of a location (SPEC §7): staff (and the operator) manage them; partners do not
 * see them. Creating, changing, enabling or disabling a time rule re-plans its timers in the same
 * transaction.
 */
export function automationRoutes(root: FastifyInstance, { db }: ApiDeps): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();

  app.post(
    '/api/locations/:locationId/automations',
    { schema: { params: LocationParams, body: CreateRuleBody } },
    async (req, reply) => {
      const rule = await db.transaction(async (tx) => {
        const loc = await visibleLocation(tx, req, req.params.locationId);
        requireRole(req.principal, 'staff');
        const def = checkRule({ ...req.body, name: req.body.name.trim() });
        await assertActionRefs(tx, loc, def);
        const created = await createRule(tx, loc.id, def);
        if (await scheduleRule(tx, created)) await tx.notify('timers');
        await auditRule(tx, req, 'automation_rule.created', loc, created.id, { rule: view(created) });
        return created;
      });
      return reply.status(201).send(view(rule));
    },
  );

  app.get('/api/locations/:locationId/automations', { schema: { params: LocationParams } }, async (req) => {
    const loc = await visibleLocation(db, req, req.params.locationId);
    requireRole(req.principal, 'staff');
    return { data: (await listRules(db, loc.id)).map(view) };
  });

  app.get('/api/locations/:locationId/automations/:ruleId', { schema: { params: RuleParams } }, async (req) =>
    view((await manageableRule(db, req, req.params.locationId, req.params.ruleId)).rule),
  );

  app.patch(
    '/api/locations/:locationId/automations/:ruleId',
    { schema: { params: RuleParams, body: PatchRuleBody } },
    async (req) => {
      const rule = await db.transaction(async (tx) => {
        const { loc, rule: old } = await manageableRule(
          tx,
          req,
          req.params.locationId,
          req.params.ruleId,
          true,
        );
        const def = checkRule({
          name: (req.body.name ?? old.name).trim(),
          enabled: req.body.enabled ?? old.enabled,
          trigger: req.body.trigger ?? old.trigger,
          conditions: req.body.conditions ?? old.conditions,
          action: req.body.action ?? old.action,
        });
        await assertActionRefs(tx, loc, def);
        const updated = await updateRule(tx, old.id, def);
        if (await scheduleRule(tx, updated)) await tx.notify('timers');
        await auditRule(tx, req, 'automation_rule.updated', loc, old.id, {
          from: view(old),
          to: view(updated),
        });
        return updated;
      });
      return view(rule);
    },
  );

  app.delete(
    '/api/locations/:locationId/automations/:ruleId',
    { schema: { params: RuleParams } },
    async (req, reply) => {
      await db.transaction(async (tx) => {
        const { loc, rule } = await manageableRule(tx, req, req.params.locationId, req.params.ruleId, true);
        await deleteRule(tx, rule.id);
        await auditRule(tx, req, 'automation_rule.deleted', loc, rule.id, { rule: view(rule) });
      });
      return reply.status(204).send();
    },
  );
}
