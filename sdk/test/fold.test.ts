import { describe, expect, test } from 'vitest';
import { foldWindow, parseEvent, WebhookFoldError, type ContactEvent } from '@fpt/webhooks';
import { envelope } from './sign.js';

const at = '2026-06-10T23:45:00.123Z';
const ev = (type: string, data: Record<string, unknown>, locationId = 12): ContactEvent =>
  parseEvent(envelope(type, { contactId: 5, ...data }, { locationId, eventTimestamp: at }));

describe('foldWindow', () => {
  test('a status change and its contact.updated fold into one update with the move', () => {
    const change = foldWindow([
      ev('contact.status_changed', { previousStatusId: 1, newStatusId: 3 }),
      ev('contact.updated', { operation: 'update' }),
    ]);
    expect(change).toMatchObject({
      contactId: 5,
      locationId: 12,
      kind: 'updated',
      status: { previous: 1, current: 3 },
      subGroup: null,
      fieldsChanged: true,
      fromLocationId: null,
    });
    expect(change.events).toHaveLength(2);
  });

  test('a creation with its typed companions is one created change', () => {
    const change = foldWindow([
      ev('contact.created', { operation: 'create' }),
      ev('contact.status_changed', { previousStatusId: 1, newStatusId: 2 }),
      ev('contact.sub_group_changed', { previousSubGroupId: null, newSubGroupId: 7 }),
      ev('contact.updated', { operation: 'update' }),
    ]);
    expect(change).toMatchObject({
      kind: 'created',
      status: { previous: 1, current: 2 },
      subGroup: { previous: null, current: 7 },
    });
  });

  test('deleted at one location and created at another is a transfer', () => {
    const change = foldWindow([
      ev('contact.deleted', { operation: 'delete' }, 12),
      ev('contact.created', { operation: 'create' }, 13),
    ]);
    expect(change).toMatchObject({ kind: 'transferred', fromLocationId: 12, locationId: 13 });
  });

  test('created and deleted at one location is created_and_deleted; deleted alone is deleted', () => {
    expect(
      foldWindow([
        ev('contact.created', { operation: 'create' }),
        ev('contact.deleted', { operation: 'delete' }),
      ]).kind,
    ).toBe('created_and_deleted');
    expect(foldWindow([ev('contact.deleted', { operation: 'delete' })]).kind).toBe('deleted');
  });

  test('a redelivered event counts once', () => {
    const updated = ev('contact.updated', { operation: 'update' });
    expect(foldWindow([updated, updated]).events).toHaveLength(1);
  });

  test('events of two contacts or two times, or none, are not one window', () => {
    const other = parseEvent(
      envelope('contact.updated', { contactId: 6, operation: 'update' }, { eventTimestamp: at }),
    );
    expect(() => foldWindow([ev('contact.updated', { operation: 'update' }), other])).toThrow(
      WebhookFoldError,
    );
    const later = parseEvent(
      envelope(
        'contact.updated',
        { contactId: 5, operation: 'update' },
        { eventTimestamp: '2026-06-10T23:46:00.000Z' },
      ),
    );
    expect(() => foldWindow([ev('contact.updated', { operation: 'update' }), later])).toThrow(
      WebhookFoldError,
    );
    expect(() => foldWindow([])).toThrow(WebhookFoldError);
  });
});
