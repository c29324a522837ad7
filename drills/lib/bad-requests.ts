/**
 * The bad requests of the bad-requests drill: each maker turns one write endpoint (and a valid
 * body for it) into a request that must be refused with a 4xx, or gives undefined when it has no
 * such request for that endpoint.
 */
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import type { Tenant } from './api.js';

export interface Bad {
  method: string;
  path: string;
  /** a raw body, sent as is */
  body?: string;
  contentType?: string;
  key?: string | null;
  kind: string;
}

/** A write endpoint: method, path, a valid body's fields with their JSON types, and a key that may call it. */
export type Endpoint = [method: string, path: string, good: Record<string, unknown>, key: string];

/** A value of another JSON type than `v` (or, for an integer, a fraction). */
const wrongType = (v: unknown) =>
  fc.sample(
    fc
      // (no NaN or infinities: JSON writes them as null, and null is a valid value for the
      // nullable fields; a drill run once sent {"lastName": null} as a "wrong type" and failed)
      .oneof(
        fc.string(),
        fc.integer(),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.boolean(),
        fc.array(fc.integer()),
        fc.object(),
      )
      .filter(
        (x) =>
          typeof x !== typeof v ||
          Array.isArray(x) !== Array.isArray(v) ||
          (typeof v === 'number' && !Number.isInteger(x)),
      ),
    1,
  )[0];

/**
 * Every kind of bad request, as makers. `partnerKey` lacks the staff role; `other` is another
 * tenant (its key, and its sub-groups for foreign ids); `otherContactId` a contact of it.
 */
export function badRequestMakers({
  partnerKey,
  other,
  otherContactId,
}: {
  partnerKey: string;
  other: Tenant;
  otherContactId: number;
}): ((e: Endpoint) => Bad | undefined)[] {
  return [
    // a random JSON value that is not an object, or an object with a field no endpoint knows
    ([method, path, , key]) => {
      // (not null: endpoints whose body is optional take a JSON null as no body, by design)
      const v = fc.sample(
        fc.jsonValue().filter((x) => x !== null),
        1,
      )[0];
      const body =
        v !== null && typeof v === 'object' && !Array.isArray(v)
          ? { ...v, [`zz_${randomBytes(3).toString('hex')}`]: 1 }
          : v;
      return { method, path, body: JSON.stringify(body) ?? 'null', key, kind: 'random JSON' };
    },
    // a valid body with one unknown field
    ([method, path, good, key]) => ({
      method,
      path,
      body: JSON.stringify({
        ...good,
        [fc.sample(fc.constantFrom('id', 'contactId', 'createdAt', 'isDeleted', 'seq', '__proto__x'), 1)[0]!]:
          1,
      }),
      key,
      kind: 'unknown field',
    }),
    // a valid body with one field of the wrong type
    ([method, path, good, key]) => {
      const fields = Object.keys(good);
      const f = fields[Math.floor(Math.random() * fields.length)];
      if (f === undefined) return undefined;
      return {
        method,
        path,
        body: JSON.stringify({ ...good, [f]: wrongType(good[f]) }),
        key,
        kind: 'wrong type',
      };
    },
    // malformed JSON: a valid body cut short, or random bytes
    ([method, path, good, key]) => {
      const s = JSON.stringify(good);
      const body =
        Math.random() < 0.5
          ? s.slice(0, Math.max(1, Math.floor(Math.random() * (s.length - 1))))
          : randomBytes(20).toString('latin1');
      return { method, path, body, key, kind: 'malformed JSON' };
    },
    // wrong content type
    ([method, path, good, key]) => ({
      method,
      path,
      body: JSON.stringify(good),
      contentType: fc.sample(
        fc.constantFrom(
          'text/plain',
          'application/x-www-form-urlencoded',
          'application/xml',
          'multipart/form-data; boundary=x',
        ),
        1,
      )[0]!,
      key,
      kind: 'wrong content type',
    }),
    // missing, malformed, unknown, partner (lacks the role) and other tenants' keys
    ([method, path, good]) => {
      const key = fc.sample(
        fc.constantFrom<string | null>(
          null,
          'garbage',
          `fpt_staff_${randomBytes(32).toString('base64url')}`,
          partnerKey,
          other.key,
        ),
        1,
      )[0]!;
      // partners may manage subscriptions, and another tenant's key may create one in its own scope
      if (key === partnerKey && path.startsWith('/api/subscriptions')) return undefined;
      if (key === other.key && path === '/api/subscriptions') return undefined;
      return { method, path, body: JSON.stringify(good), key, kind: 'wrong key' };
    },
    // bad or foreign ids in the path
    ([method, path, good, key]) => {
      const bad = fc.sample(
        fc.constantFrom(
          'abc',
          '-1',
          '0',
          '1e30',
          '99999999',
          '1.5',
          `${otherContactId}`,
          '%00',
          // past the columns' range: bigint ids, and the integer sub-group numbers
          '99999999999999999999',
          '9223372036854775808',
          '2147483648',
        ),
        1,
      )[0]!;
      const p = path.replace(/\/(\d+|sub_[a-z0-9]+)(\/|$)/, `/${bad}$2`);
      if (p === path) return undefined;
      return { method, path: p, body: JSON.stringify(good), key, kind: 'bad id' };
    },
    // values out of range
    ([method, path, good, key]) => {
      if ('contactGroupId' in good)
        return {
          method,
          path,
          body: JSON.stringify({ ...good, contactGroupId: fc.sample(fc.constantFrom(0, 8, -1, 99), 1)[0] }),
          key,
          kind: 'out of range',
        };
      if ('subGroupId' in good)
        return {
          method,
          path,
          body: JSON.stringify({ ...good, subGroupId: other.subGroups[1]! + 1000 }),
          key,
          kind: 'out of range',
        };
      return undefined;
    },
    // an encoded path to an API route, without a valid key: authentication is on the matched route
    ([method, path, good]) => ({
      method,
      path: path.replace(
        /^\/api\//,
        fc.sample(fc.constantFrom('/%61pi/', '/%61%70%69/', '/%41PI/', '/api%2F', '//api/'), 1)[0]!,
      ),
      body: JSON.stringify(good),
      key: fc.sample(fc.constantFrom<string | null>(null, 'garbage'), 1)[0]!,
      kind: 'encoded path',
    }),
    // a NUL or a lone surrogate in one string field (an import takes such a row as rejected
    // while the rest apply: its answer is a 200, so it is left out here)
    ([method, path, good, key]) => {
      if (path.endsWith('/import')) return undefined;
      const body = structuredClone(good);
      // every string of the body, as the object (or array) holding it and its key there
      const slots: [Record<string | number, unknown>, string | number][] = [];
      const walk = (v: unknown) => {
        if (v === null || typeof v !== 'object') return;
        for (const [k, x] of Object.entries(v)) {
          if (typeof x === 'string') slots.push([v as Record<string | number, unknown>, k]);
          else walk(x);
        }
      };
      // the contact endpoints take more strings than their sample bodies hold
      if (/\/contacts(\/\d+)?$/.test(path)) {
        Object.assign(body, {
          externalId: 'e',
          phone: 'p',
          membershipType: 'm',
          tags: ['t'],
          customFields: { note: 'n' },
        });
      }
      walk(body);
      const slot = slots[Math.floor(Math.random() * slots.length)];
      if (slot === undefined) return undefined;
      const bad = fc.sample(
        fc.constantFrom('\u0000', 'a\u0000b', '\ud800', 'x\udfff', '\udc00\ud800'),
        1,
      )[0]!;
      const [holder, at] = slot;
      holder[at] = `${String(holder[at])}${bad}`;
      return { method, path, body: JSON.stringify(body), key, kind: 'NUL or lone surrogate' };
    },
    // an integer past what its column holds, in any numeric field
    ([method, path, good, key]) => {
      const fields = Object.keys(good).filter((f) => typeof good[f] === 'number');
      const ids = ['locationId', 'organizationId', 'subGroupId', 'assignedStaffId'];
      const f =
        fields[Math.floor(Math.random() * fields.length)] ??
        (/\/contacts(\/\d+)?$/.test(path) ? fc.sample(fc.constantFrom(...ids), 1)[0]! : undefined);
      if (f === undefined) return undefined;
      const huge = fc.sample(fc.constantFrom(1e20, 1e300, 2 ** 31, 2 ** 53, 2 ** 63, -1e20), 1)[0]!;
      return {
        method,
        path,
        body: JSON.stringify({ ...good, [f]: huge }),
        key,
        kind: 'integer out of range',
      };
    },
  ];
}
