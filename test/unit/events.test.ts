import { describe, expect, test } from 'vitest';
import {
  EVENT_CATALOG,
  EVENT_SCHEMAS,
  EVENT_TYPES,
  EventEnvelope,
  eventErrors,
  inPublishedOrder,
  validateEvent,
} from '../../src/domain/events.js';

/** The parts of a published object schema these tests look at. */
interface ObjectSchema {
  $id?: string;
  title?: string;
  additionalProperties: unknown;
  required: string[];
  properties: Record<string, ObjectSchema>;
}

const published = (schema: unknown) => JSON.parse(JSON.stringify(schema)) as ObjectSchema;

const statusExample = EVENT_CATALOG.find((e) => e.type === 'contact.status_changed')!.example;

describe('event schemas', () => {
  test('the catalog lists every event type once, in the published order', () => {
    expect(EVENT_CATALOG.map((e) => e.type)).toEqual([...EVENT_TYPES]);
  });

  test.each(EVENT_CATALOG)('the $type example is a valid envelope of its own type', (entry) => {
    expect(eventErrors(entry.example)).toEqual([]);
    expect(validateEvent(entry.example)).toBe(true);
    expect(entry.example.eventType).toBe(entry.type);
    expect(entry.schema).toBe(EVENT_SCHEMAS[entry.type]);
    expect(entry.description.length).toBeGreaterThan(20);
  });

  test.each(EVENT_TYPES)('the %s schema is published under its own $id and names every key required', (t) => {
    const schema = published(EVENT_SCHEMAS[t]);
    const data = schema.properties.data!;
    expect(schema.$id).toBe(`https://fpt.example/schemas/v1/${t}.json`);
    expect(schema.title).toBe(t);
    expect(schema.additionalProperties).toBe(false);
    expect([...schema.required].sort()).toEqual(Object.keys(schema.properties).sort());
    expect(data.additionalProperties).toBe(false);
    expect([...data.required].sort()).toEqual(Object.keys(data.properties).sort());
  });

  test('the envelope is the union of the five published schemas', () => {
    const union = JSON.parse(JSON.stringify(EventEnvelope)) as { anyOf: ObjectSchema[] };
    expect(union.anyOf.map((s) => s.$id)).toEqual(EVENT_TYPES.map((t) => published(EVENT_SCHEMAS[t]).$id));
  });

  test.each([
    [
      'an extra key in the envelope',
      { ...statusExample, extra: 1 },
      '/: must not have additional properties (extra)',
    ],
    ['an extra key in data', { ...statusExample, data: { ...statusExample.data, note: 'x' } }, '/data'],
    [
      'an eventId with uppercase hex',
      { ...statusExample, eventId: '9F1C7E2A8C4D4B1B9E3F5A6D7C8B9A0E' },
      '/eventId',
    ],
    [
      'an eventId with dashes',
      { ...statusExample, eventId: '9f1c7e2a-8c4d-4b1b-9e3f-5a6d7c8b9a0e' },
      '/eventId',
    ],
    [
      'an eventId one character short',
      { ...statusExample, eventId: '9f1c7e2a8c4d4b1b9e3f5a6d7c8b9a0' },
      '/eventId',
    ],
    [
      'a timestamp without milliseconds',
      { ...statusExample, eventTimestamp: '2026-06-10T23:45:00Z' },
      '/eventTimestamp',
    ],
    [
      'a timestamp with an offset',
      { ...statusExample, eventTimestamp: '2026-06-10T23:45:00.123+00:00' },
      '/eventTimestamp',
    ],
    [
      'previousStatusId 9',
      { ...statusExample, data: { ...statusExample.data, previousStatusId: 9 } },
      '/data/previousStatusId',
    ],
    [
      'newStatusId 0',
      { ...statusExample, data: { ...statusExample.data, newStatusId: 0 } },
      '/data/newStatusId',
    ],
    [
      'a fractional contactId',
      { ...statusExample, data: { ...statusExample.data, contactId: 1.5 } },
      '/data/contactId',
    ],
    ['organizationId -1', { ...statusExample, organizationId: -1 }, '/organizationId'],
    ['locationId 0', { ...statusExample, locationId: 0 }, '/locationId'],
    ['apiVersion v2', { ...statusExample, apiVersion: 'v2' }, '/apiVersion'],
    ['an unknown eventType', { ...statusExample, eventType: 'contact.merged' }, '/eventType'],
    ['data of another type', { ...statusExample, data: { contactId: 9876, operation: 'update' } }, '/data'],
  ])('an event with %s is rejected with a pointer to the problem', (_name, value, where) => {
    expect(validateEvent(value)).toBe(false);
    const errors = eventErrors(value);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.some((e) => e.startsWith(where))).toBe(true);
  });

  test('the errors name each problem once, unknown keys by name, at the path where they are', () => {
    expect(eventErrors({ ...statusExample, eventType: 'contact.merged' })).toEqual([
      `/eventType: must be one of ${EVENT_TYPES.join(', ')}`,
    ]);
    expect(eventErrors({ ...statusExample, data: { ...statusExample.data, extra: 1 } })).toEqual([
      '/data: must not have additional properties (extra)',
    ]);
    expect(eventErrors({ ...statusExample, extra: 1, locationId: 0 })).toEqual([
      '/: must not have additional properties (extra)',
      '/locationId: must be >= 1',
    ]);
  });

  test('an event missing a key is rejected', () => {
    const { eventTimestamp: _dropped, ...rest } = statusExample;
    expect(validateEvent(rest)).toBe(false);
    const { previousStatusId: _gone, ...data } = statusExample.data;
    expect(validateEvent({ ...statusExample, data })).toBe(false);
  });

  test('a sub-group change accepts null on either side but not sub-group 0', () => {
    const base = EVENT_CATALOG.find((e) => e.type === 'contact.sub_group_changed')!.example;
    const withData = (previousSubGroupId: number | null, newSubGroupId: number | null) => ({
      ...base,
      data: { contactId: 9876, previousSubGroupId, newSubGroupId },
    });
    expect(validateEvent(withData(null, 7))).toBe(true);
    expect(validateEvent(withData(7, null))).toBe(true);
    expect(validateEvent(withData(7, 12))).toBe(true);
    expect(validateEvent(withData(0, 7))).toBe(false);
  });

  test('values that are not objects are rejected', () => {
    for (const v of [null, 'x', 3, [statusExample]]) {
      expect(validateEvent(v)).toBe(false);
      expect(eventErrors(v)).toEqual(['/: must be an object']);
    }
  });
});

describe('inPublishedOrder', () => {
  test('puts an event read back from jsonb (shortest keys first) in the order its schema documents', () => {
    const fromJsonb = {
      data: { contactId: 5, newSubGroupId: 7, previousSubGroupId: null },
      eventId: '0190a1b2c3d47e5f8a9b0c1d2e3f4a5b',
      eventType: 'contact.sub_group_changed',
      apiVersion: 'v1',
      locationId: 2,
      eventTimestamp: '2026-11-30T12:00:00.000Z',
      organizationId: 1,
    } as const;
    const ordered = inPublishedOrder(fromJsonb);
    expect(ordered).toEqual(fromJsonb);
    expect(JSON.stringify(ordered)).toBe(
      '{"eventId":"0190a1b2c3d47e5f8a9b0c1d2e3f4a5b","eventType":"contact.sub_group_changed",' +
        '"eventTimestamp":"2026-11-30T12:00:00.000Z","locationId":2,"organizationId":1,"apiVersion":"v1",' +
        '"data":{"contactId":5,"previousSubGroupId":null,"newSubGroupId":7}}',
    );
  });

  test('keeps a field its type does not name, after the named ones', () => {
    const e = EVENT_CATALOG.find((c) => c.type === 'contact.updated')!.example;
    const withExtra = { ...e, data: { extra: 1, ...e.data } } as typeof e;
    expect(Object.keys(inPublishedOrder(withExtra).data)).toEqual(['contactId', 'operation', 'extra']);
  });
});
