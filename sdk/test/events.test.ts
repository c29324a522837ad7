import { describe, expect, expectTypeOf, test } from 'vitest';
import {
  CONTACT_GROUPS,
  CONTACT_GROUP_IDS,
  ContactGroup,
  contactGroupName,
  EVENT_EXAMPLES,
  EVENT_TYPES,
  isContactEvent,
  isContactGroupId,
  parseEvent,
  WebhookPayloadError,
  type ContactEvent,
  type ContactGroupId,
  type EventData,
} from '@fpt/webhooks';
import { envelope } from './sign.js';

function payloadError(fn: () => unknown): WebhookPayloadError {
  try {
    fn();
  } catch (err) {
    if (err instanceof WebhookPayloadError) return err;
    throw err;
  }
  throw new Error('expected a payload error');
}

describe('parseEvent', () => {
  test.each(EVENT_TYPES)('the catalog example of %s parses as that type', (type) => {
    const event = parseEvent(JSON.stringify(EVENT_EXAMPLES[type]));
    expect(event.eventType).toBe(type);
    expect(isContactEvent(event)).toBe(true);
  });

  test('a parsed event narrows on eventType to its own data', () => {
    const event: ContactEvent = parseEvent(
      envelope('contact.status_changed', { contactId: 5, previousStatusId: 1, newStatusId: 3 }),
    );
    if (event.eventType !== 'contact.status_changed') throw new Error('wrong type');
    expectTypeOf(event.data.newStatusId).toEqualTypeOf<ContactGroupId>();
    expectTypeOf<EventData<'contact.sub_group_changed'>['newSubGroupId']>().toEqualTypeOf<number | null>();
    expect(contactGroupName(event.data.newStatusId)).toBe('Members');
  });

  test('bytes parse like text, and bytes that are not UTF-8 are invalid_body', () => {
    const text = envelope('contact.deleted', { contactId: 5, operation: 'delete' });
    expect(parseEvent(Buffer.from(text)).eventType).toBe('contact.deleted');
    expect(payloadError(() => parseEvent(new Uint8Array([0xff, 0xfe, 0x7b]))).code).toBe('invalid_body');
    expect(payloadError(() => parseEvent('{"eventId":'))).toMatchObject({
      code: 'invalid_body',
      status: 400,
    });
  });

  test('a contact group outside 1-7 is refused, naming the field', () => {
    const err = payloadError(() =>
      parseEvent(envelope('contact.status_changed', { contactId: 5, previousStatusId: 1, newStatusId: 9 })),
    );
    expect(err.code).toBe('invalid_event');
    expect(err.problems.join('\n')).toContain('/data/newStatusId');
  });

  test('an unknown key in the envelope or in data is refused, naming the key', () => {
    const extra = payloadError(() =>
      parseEvent(envelope('contact.updated', { contactId: 5, operation: 'update', fields: ['email'] })),
    );
    expect(extra.problems.join('\n')).toContain('fields');
    const top = payloadError(() =>
      parseEvent(envelope('contact.updated', { contactId: 5, operation: 'update' }, { extra: 1 })),
    );
    expect(top.problems.join('\n')).toContain('extra');
  });

  test('a type this SDK does not know has its own code, so a receiver may choose to acknowledge it', () => {
    const err = payloadError(() => parseEvent(envelope('contact.merged', { contactId: 5 })));
    expect(err.code).toBe('unknown_event_type');
    expect(payloadError(() => parseEvent('[1,2]')).code).toBe('invalid_event');
    expect(payloadError(() => parseEvent('null')).code).toBe('invalid_event');
  });

  test('a data object of another type is refused', () => {
    const err = payloadError(() =>
      parseEvent(envelope('contact.created', { contactId: 5, operation: 'update' })),
    );
    expect(err.problems.join('\n')).toContain('/data/operation');
  });
});

describe('Contact Groups', () => {
  test('the named ids match the catalog names', () => {
    const squash = (name: string) => name.replace(/[^A-Za-z]/g, '').toLowerCase();
    for (const [key, id] of Object.entries(ContactGroup)) {
      expect(squash(CONTACT_GROUPS[id])).toBe(key.toLowerCase());
    }
    expect(Object.values(ContactGroup)).toEqual(CONTACT_GROUP_IDS);
    expect(CONTACT_GROUP_IDS).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  test('only 1-7 are Contact Group ids', () => {
    expect([0, 1, 7, 8, 3.5, '3', null].map(isContactGroupId)).toEqual([
      false,
      true,
      true,
      false,
      false,
      false,
      false,
    ]);
    expect(contactGroupName(ContactGroup.PastMembers)).toBe('Past Members');
  });
});
