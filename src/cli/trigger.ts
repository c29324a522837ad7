import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import type { Static } from 'typebox';
import type * as R from '../api/openapi/responses.js';
import { EVENT_TYPES, type ContactEvent } from '../domain/events.js';
import { ApiClient, note, out, printJson } from './api-client.js';
import { eventLine, eventsPath, endCursor } from './events.js';
import { CliError, EXIT } from './failure.js';
import {
  apiOptions,
  apiTarget,
  exitHelp,
  jsonOption,
  positiveInt,
  withHelp,
  type ApiOpts,
} from './options.js';

/** The sandbox contact's externalId at a location: one per location, found again by it. */
export const SANDBOX_EXTERNAL_ID = 'fpt-events-sandbox';
const SANDBOX_NAME = { firstName: 'Sandbox', lastName: 'Contact (fpt-events trigger)' };
const SANDBOX_SUB_GROUP = 'Sandbox (fpt-events trigger)';

/** A contact as the API answers it (its published schema). */
type Contact = Static<typeof R.Contact>;

type TriggerOpts = ApiOpts & { location?: number; wait: boolean; timeout: number };

const ABOUT = `It makes the event happen for real, so the whole path runs (the contact write, its history,
the coalescing window, the event, every subscription's delivery), as \`stripe trigger\` does:
  contact.created            creates a new sandbox contact
  contact.updated            changes the sandbox contact's customFields.fptEventsTrigger
  contact.status_changed     moves the sandbox contact between Leads (1) and Prospects (2)
  contact.sub_group_changed  moves it in or out of the sub-group "${SANDBOX_SUB_GROUP}" (created if needed)
  contact.deleted            deletes the sandbox contact (the next trigger reactivates it; when it
                             is already deleted, a new sandbox contact is created and deleted)
The sandbox contact is named "${SANDBOX_NAME.firstName} ${SANDBOX_NAME.lastName}" (externalId ${SANDBOX_EXTERNAL_ID}), one per location,
created when first needed (which emits its own contact.created). It needs a staff key (or the
operator key with --location); the location is the key's own unless --location names one.
It then waits for the event: it is emitted when the contact's coalescing window closes
(FPT_COALESCE_QUIET_MS after the change, 5 s by default).`;

/** `fpt-events trigger <event-type>` */
export function triggerCommand(program: Command): void {
  withHelp(
    jsonOption(
      apiOptions(
        program
          .command('trigger')
          .description("make an event happen on a sandbox contact of the key's location, and wait for it")
          .argument('<event-type>', EVENT_TYPES.join(', '))
          .option('--location <id>', "the location (default the key's)", positiveInt('a location id'))
          .option('--no-wait', 'do not wait for the event')
          .option(
            '--timeout <seconds>',
            'how long to wait for the event',
            positiveInt('a number of seconds'),
            60,
          ),
      ),
    ),
    {
      about: ABOUT,
      exit: exitHelp([EXIT.ok, EXIT.failed, EXIT.usage, EXIT.unreachable, EXIT.timeout], {
        [EXIT.ok]: 'the change was made (and, unless --no-wait, its event was stored)',
        [EXIT.failed]: 'the service refused a request (say, a partner key: contacts need a staff key)',
        [EXIT.usage]: 'usage error: an unknown event type, no API key, no location',
        [EXIT.timeout]: 'the change was made but no event arrived within --timeout',
      }),
      env: ['FPT_URL', 'FPT_API_KEY'],
    },
  ).action(async (eventType: string, opts: TriggerOpts) => {
    if (!(EVENT_TYPES as readonly string[]).includes(eventType)) {
      throw new CliError(`unknown event type "${eventType}": ${EVENT_TYPES.join(', ')}`, EXIT.usage);
    }
    const api = new ApiClient(apiTarget(opts));
    const locationId = opts.location ?? (await keyLocation(api));
    const filter = { type: eventType, location: locationId };
    const { cursor } = opts.wait ? await endCursor(api, filter) : { cursor: '0' };
    const contactId = await makeItHappen(api, eventType as (typeof EVENT_TYPES)[number], locationId);
    if (!opts.wait) return out(`triggered ${eventType} on contact ${contactId} at location ${locationId}`);
    note(`triggered ${eventType} on contact ${contactId}; waiting for its window to close…`);
    const event = await waitForEvent(api, cursor, filter, contactId, opts.timeout * 1000);
    if (event === undefined) {
      throw new CliError(
        `no ${eventType} event for contact ${contactId} within ${opts.timeout} s (is the service's background work running?)`,
        EXIT.timeout,
      );
    }
    if (opts.json) return printJson(event);
    out(eventLine(event));
  });
}

async function keyLocation(api: ApiClient): Promise<number> {
  const me = await api.get<{ kind: string; locationId?: number | null }>('/api/me');
  if (typeof me.locationId === 'number') return me.locationId;
  throw new CliError(
    me.kind === 'operator'
      ? 'the operator key has no location of its own: give --location'
      : 'this key is for a whole organization: give --location, one of its locations',
    EXIT.usage,
  );
}

async function findSandbox(api: ApiClient, locationId: number): Promise<Contact | undefined> {
  const found = await api.get<{ data: Contact[] }>(
    `/api/locations/${locationId}/contacts?externalId=${SANDBOX_EXTERNAL_ID}`,
  );
  return found.data[0];
}

/** A new contact named as a sandbox one (its externalId unique at the location). */
const newSandbox = (api: ApiClient, locationId: number) =>
  api.post<Contact>(`/api/locations/${locationId}/contacts`, {
    ...SANDBOX_NAME,
    externalId: `${SANDBOX_EXTERNAL_ID}-${Date.now().toString(36)}`,
  });

/**
 * The sandbox contact of the location, created (or reactivated) when needed. A change made in the
 * same window as its creation or reactivation still emits its event (derive.ts reports a creation
 * as a change from the location's defaults, a reactivation as a change from before it).
 */
async function sandboxContact(api: ApiClient, locationId: number): Promise<Contact> {
  const c = await findSandbox(api, locationId);
  if (c === undefined) {
    const created = await api.post<Contact>(`/api/locations/${locationId}/contacts`, {
      ...SANDBOX_NAME,
      externalId: SANDBOX_EXTERNAL_ID,
    });
    note(`created the sandbox contact ${created.contactId} at location ${locationId}`);
    return created;
  }
  if (!c.isActive) return api.post<Contact>(`/api/contacts/${c.contactId}/reactivate`);
  return c;
}

/** Writes the change that emits the event; answers the contact it happens to. */
async function makeItHappen(
  api: ApiClient,
  eventType: (typeof EVENT_TYPES)[number],
  locationId: number,
): Promise<number> {
  if (eventType === 'contact.created') return (await newSandbox(api, locationId)).contactId;
  if (eventType === 'contact.deleted') {
    // a reactivation and a deletion in one window would cancel out: when the sandbox contact is
    // already deleted, a new sandbox contact is created and deleted (both events are emitted)
    const found = await findSandbox(api, locationId);
    const c = found?.isActive ? found : await newSandbox(api, locationId);
    await api.delete(`/api/contacts/${c.contactId}`);
    return c.contactId;
  }
  const c = await sandboxContact(api, locationId);
  const path = `/api/contacts/${c.contactId}`;
  switch (eventType) {
    case 'contact.updated':
      await api.patch(path, { customFields: { fptEventsTrigger: new Date().toISOString() } });
      break;
    case 'contact.status_changed':
      await api.patch(path, { contactGroupId: c.contactGroupId === 1 ? 2 : 1 });
      break;
    case 'contact.sub_group_changed': {
      const subGroupId = c.subGroupId === null ? await sandboxSubGroup(api, locationId) : null;
      await api.patch(path, { subGroupId });
      break;
    }
  }
  return c.contactId;
}

async function sandboxSubGroup(api: ApiClient, locationId: number): Promise<number> {
  const list = await api.get<{ data: { subGroupId: number; name: string }[] }>(
    `/api/locations/${locationId}/sub-groups`,
  );
  const found = list.data.find((g) => g.name === SANDBOX_SUB_GROUP);
  if (found) return found.subGroupId;
  const created = await api.post<{ subGroupId: number }>(`/api/locations/${locationId}/sub-groups`, {
    name: SANDBOX_SUB_GROUP,
  });
  return created.subGroupId;
}

/** Follows the pull API from `cursor` until the contact's event of the type is stored. */
async function waitForEvent(
  api: ApiClient,
  cursor: string,
  filter: { type: string; location: number },
  contactId: number,
  timeoutMs: number,
): Promise<ContactEvent | undefined> {
  const deadline = Date.now() + timeoutMs;
  let after = cursor;
  while (Date.now() < deadline) {
    const page = await api.get<{ data: ContactEvent[]; nextCursor: string }>(eventsPath(after, filter, 100));
    const hit = page.data.find((e) => e.data.contactId === contactId);
    if (hit) return hit;
    after = page.nextCursor;
    if (page.data.length < 100) await sleep(250);
  }
  return undefined;
}
