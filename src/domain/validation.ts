/**
 * JSON Schema validation (ajv) and the mapping of its first violation to a 4xx error naming the
 * field: request bodies, import rows and automation rules are all checked this way.
 */
import { Ajv, type ErrorObject, type Options, type SchemaValidateFunction, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { CONTACT_GROUP_LIST } from './contact-groups.js';
import { AppError } from '../errors.js';

// ajv-formats is CommonJS; under NodeNext its default import is the module object.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

// with the u flag a string is read by code points: a paired surrogate is one (astral) code point,
// so only an unpaired one is a Cs code point (String.prototype.isWellFormed is ES2024)
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Why PostgreSQL could not store `text`, or undefined: a NUL (text columns and jsonb refuse it) or
 * a UTF-16 surrogate without its pair (no UTF-8 encoding exists for one).
 */
export function unstorableText(text: string): string | undefined {
  if (text.includes('\0')) return 'must not contain a NUL character (U+0000)';
  if (LONE_SURROGATE.test(text)) return 'must not contain a lone UTF-16 surrogate (U+D800 to U+DFFF)';
  return undefined;
}

const STORABLE = 'storableText';

const checkStorable: SchemaValidateFunction = (_schema: unknown, data: string) => {
  const why = unstorableText(data);
  if (why === undefined) return true;
  checkStorable.errors = [{ keyword: STORABLE, message: why, params: {} }];
  return false;
};

/**
 * `schema` with the `storableText` keyword on every schema that admits a string, so that every
 * string of every request (bodies, query strings, path parameters, import rows, rule values) is
 * checked by the one validator that checks its type: one mechanism, no per-route patch. Keywords
 * whose values are data, not schemas (`enum`, `const`, `default`, `examples`), are left alone.
 */
export function withStorableText(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withStorableText);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    out[key] = DATA_KEYWORDS.has(key) ? value : withStorableText(value);
  }
  const type = (schema as { type?: unknown }).type;
  if (type === 'string' || (Array.isArray(type) && type.includes('string'))) out[STORABLE] = true;
  return out;
}
const DATA_KEYWORDS = new Set(['enum', 'const', 'default', 'examples']);

function makeAjv(opts: Options): Ajv {
  const ajv = new Ajv({ allErrors: false, strict: false, ...opts });
  addFormats(ajv, ['date-time', 'email', 'uri']);
  ajv.addKeyword({
    keyword: STORABLE,
    type: 'string',
    schemaType: 'boolean',
    errors: true,
    validate: checkStorable,
  });
  return ajv;
}

/** Schemas with the keyword, by the schema they came from: ajv then finds them in its own cache. */
const storable = new WeakMap<object, object>();

/** `ajv`'s validator for `schema`, every string in it checked for text PostgreSQL can store. */
export function compileSchema(ajv: Ajv, schema: object): ValidateFunction {
  let checked = storable.get(schema);
  if (checked === undefined) {
    checked = withStorableText(schema) as object;
    storable.set(schema, checked);
  }
  return ajv.compile(checked);
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
  const check = compileSchema(bodyAjv, schema);
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
