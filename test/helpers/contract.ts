import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { FastifyInstance } from 'fastify';

/**
 * Checks every answer of an app against the contract of its route (src/api/openapi/contract.ts):
 * the status must be one the route declares, and the body (before serialization, so that nothing
 * the serializer would coerce or drop goes unseen) must match its schema. One hook for every
 * integration test: a new route or a new answer cannot skip it.
 */
const ajv = new Ajv2020({ allErrors: true, strict: false, validateFormats: true });
addFormats.default(ajv);
const compiled = new WeakMap<object, ReturnType<typeof ajv.compile>>();

export function checkAnswersAgainstContract(app: FastifyInstance, violations: string[]): void {
  app.addHook('preSerialization', async (req, reply, payload) => {
    const route = `${String(req.routeOptions.method)} ${req.routeOptions.url}`;
    const response = req.routeOptions.schema?.response as Record<string, object> | undefined;
    if (response === undefined || req.routeOptions.url === undefined) return payload;
    const schema = response[String(reply.statusCode)];
    if (schema === undefined) {
      violations.push(`${route} answered ${reply.statusCode}, a status its contract does not list`);
      return payload;
    }
    let validate = compiled.get(schema);
    if (!validate) {
      // the event schemas carry their own $id, and appear in several answers' schemas
      validate = ajv.compile(stripIds(schema));
      compiled.set(schema, validate);
    }
    if (!validate(payload)) {
      violations.push(
        `${route} answered ${reply.statusCode} with a body its contract refuses: ${ajv.errorsText(validate.errors)}; body ${JSON.stringify(payload).slice(0, 500)}`,
      );
    }
    return payload;
  });
}

/** A copy of a schema without `$id`s, so that the same sub-schema may appear in several. */
function stripIds(schema: unknown): object {
  return JSON.parse(JSON.stringify(schema, (k, v: unknown) => (k === '$id' ? undefined : v))) as object;
}
