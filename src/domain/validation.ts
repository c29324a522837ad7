/**
 * JSON Schema validation (ajv) and the mapping of its first violation to a 4xx error naming the
 * field: request bodies, import rows and automation rules are all checked this way.
 */
import { Ajv, type ErrorObject, type Options } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { CONTACT_GROUP_LIST } from './contact-groups.js';
import { AppError } from '../errors.js';

// ajv-formats is CommonJS; under NodeNext its default import is the module object.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

function makeAjv(opts: Options): Ajv {
  const ajv = new Ajv({ allErrors: false, strict: false, ...opts });
  addFormats(ajv, ['date-time', 'email', 'uri']);
  return ajv;
}

// Bodies are checked as sent: no coercion ("3" is not 3), nothing silently dropped (Fastify's own
// default removes unknown properties, which would hide a client's typo). Query strings and path
// parameters are text by nature, so they are coerced to the schema's types.
export const bodyAjv = makeAjv({ coerceTypes: false, removeAdditional: false, useDefaults: false });
export const textAjv = makeAjv({ coerceTypes: true, removeAdditional: false, useDefaults: true });

/**
 * A validator for values that arrive inside a request rather than as it (one import row, say): it
 * answers undefined, or the same 4xx error a request body would get.
 */
export function compileValidator(schema: object): (value: unknown) => AppError | undefined {
  const check = bodyAjv.compile(schema);
  return (value) => (check(value) ? undefined : validationError('body', check.errors ?? []));
}

function fieldOf(e: ErrorObject): string | undefined {
  const segments = e.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
  const params = e.params as Record<string, unknown>;
  const extra = params.additionalProperty ?? params.missingProperty ?? params.propertyName;
  if (typeof extra === 'string') segments.push(extra);
  if (segments.length === 0) return undefined;
  return segments.reduce((acc, s) => (/^\d+$/.test(s) ? `${acc}[${s}]` : acc === '' ? s : `${acc}.${s}`), '');
}

const PART_NAMES: Record<string, string> = {
  body: 'request body',
  querystring: 'query parameter',
  params: 'path parameter',
  headers: 'header',
};

/** Turns the first schema violation into a 400 naming the field and the reason. */
export function validationError(context: string, errors: readonly ErrorObject[]): AppError {
  const e = errors[0];
  if (!e) return new AppError(400, 'invalid_request', `invalid ${PART_NAMES[context] ?? context}`);
  const field = fieldOf(e);
  const params = e.params as Record<string, unknown>;
  const subject = field ?? PART_NAMES[context] ?? context;
  switch (e.keyword) {
    case 'additionalProperties':
      return new AppError(
        400,
        'unknown_field',
        `unknown ${context === 'body' ? 'field' : PART_NAMES[context]} "${field}"`,
        field,
      );
    case 'required':
      return new AppError(400, 'missing_field', `${subject} is required`, field);
    case 'type': {
      const t = params.type;
      const types = (Array.isArray(t) ? t : [t])
        .map(String)
        .map((x) => (x === 'null' ? 'null' : `a${/^[aeiou]/.test(x) ? 'n' : ''} ${x}`));
      const what = field === undefined && context === 'body' ? 'the request body' : subject;
      return new AppError(400, 'invalid_type', `${what} must be ${types.join(' or ')}`, field);
    }
    case 'enum':
      if (field !== undefined && /(?:^|\.)(?:contactGroupId|defaultContactGroupId)$/.test(field)) {
        return new AppError(
          400,
          'invalid_contact_group',
          `${field} must be a Contact Group id: ${CONTACT_GROUP_LIST}`,
          field,
        );
      }
      return new AppError(
        400,
        'invalid_value',
        `${subject} must be one of ${JSON.stringify(params.allowedValues)}`,
        field,
      );
    case 'const': {
      // a union of literals (`role`: staff or partner) fails one `const` per branch, then `anyOf`:
      // name every allowed value rather than the first branch's "must be equal to constant"
      const allowed = errors
        .filter((x) => x.keyword === 'const' && x.instancePath === e.instancePath)
        .map((x) => JSON.stringify((x.params as { allowedValue: unknown }).allowedValue));
      return new AppError(
        400,
        'invalid_value',
        allowed.length > 1
          ? `${subject} must be one of ${allowed.join(', ')}`
          : `${subject} must be ${allowed[0]}`,
        field,
      );
    }
    case 'propertyNames':
      return new AppError(
        400,
        'invalid_value',
        `${subject}: custom field names must match ${String((e.parentSchema as { pattern?: string } | undefined)?.pattern ?? 'the allowed pattern')}`,
        field,
      );
    default:
      return new AppError(400, 'invalid_value', `${subject} ${e.message ?? 'is invalid'}`, field);
  }
}
