/**
 * A small partner integration built only on the SDK (`@fpt/webhooks`) and FPT's public HTTP API:
 *
 * - mirrors contacts: looks each one up on contact.created / contact.updated (the events are thin);
 * - keeps a per-location sub-group lookup, `(locationId, subGroupId) → name`, refreshed when an event
 *   names a sub-group it does not know yet;
 * - reports lifecycle funnel numbers from the events it received: lead → member conversions and
 *   member → past-member churn.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  contactGroupName,
  ContactGroup,
  createNodeHandler,
  foldWindow,
  Webhooks,
  type ContactChange,
  type ContactEvent,
  type ContactGroupId,
  type DedupeStore,
  type DeliveryContext,
} from '@fpt/webhooks';

/** The fields of a contact this app keeps (the API returns more). */
export interface MirroredContact {
  contactId: number;
  locationId: number;
  isActive: boolean;
  contactGroupId: ContactGroupId;
  subGroupId: number | null;
  firstName: string | null;
  lastName: string | null;
  email: string | null;
}

export interface FunnelReport {
  /** active mirrored contacts per Contact Group name */
  activeByGroup: Record<string, number>;
  /** contacts seen as Leads, and how many of them became Members */
  leads: number;
  leadToMember: number;
  /** contacts seen as Members, and how many of them became Past Members */
  members: number;
  memberToPastMember: number;
}

export interface PartnerAppOptions {
  /** FPT's API, e.g. https://api.fpt.example */
  apiUrl: string;
  /** a partner API key */
  apiKey: string;
  /** the subscription's signing secret */
  secret: string;
  /** share processed eventIds between instances (Redis, PostgreSQL); default in memory */
  dedupe?: DedupeStore;
}

/** Windows kept for folding companion events; one window's events arrive back to back per contact. */
const RECENT_WINDOWS = 1000;

export class PartnerApp {
  readonly webhooks: Webhooks;
  readonly contacts = new Map<number, MirroredContact>();
  /** locationId → subGroupId → name */
  readonly subGroups = new Map<number, Map<number, string>>();
  /** deliveries processed (not counting redeliveries) */
  processed = 0;
  private readonly everLead = new Set<number>();
  private readonly everMember = new Set<number>();
  private leadToMember = 0;
  private memberToPastMember = 0;
  private readonly windows = new Map<string, ContactEvent[]>();

  constructor(private readonly opts: PartnerAppOptions) {
    this.webhooks = new Webhooks({ secret: opts.secret, ...(opts.dedupe ? { dedupe: opts.dedupe } : {}) });
    this.webhooks
      .on('contact.created', (e, ctx) => this.lookUp(e.data.contactId, this.fold(e, ctx)))
      .on('contact.updated', async (e, ctx) => {
        // a creation in the same window already looked the contact up, after the window's last change
        if (this.fold(e, ctx).kind !== 'created') await this.lookUp(e.data.contactId);
      })
      .on('contact.status_changed', (e, ctx) => {
        this.countMove(e.data.contactId, e.data.previousStatusId, e.data.newStatusId, this.fold(e, ctx));
      })
      .on('contact.sub_group_changed', async (e, ctx) => {
        this.fold(e, ctx);
        const id = e.data.newSubGroupId;
        if (id !== null && !this.subGroups.get(e.locationId)?.has(id)) await this.loadSubGroups(e.locationId);
      })
      .on('contact.deleted', (e, ctx) => {
        this.fold(e, ctx);
        const c = this.contacts.get(e.data.contactId);
        // a transfer deletes at the old location; the contact.created that follows looks it up again
        if (c && c.locationId === e.locationId) c.isActive = false;
      })
      .onAny(() => {
        this.processed++;
      });
  }

  /** The `node:http` handler for the webhook endpoint. */
  handler(): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
    return createNodeHandler(this.webhooks);
  }

  /** The sub-group's name at that location, if known. */
  subGroupName(locationId: number, subGroupId: number | null): string | undefined {
    return subGroupId === null ? undefined : this.subGroups.get(locationId)?.get(subGroupId);
  }

  report(): FunnelReport {
    const activeByGroup: Record<string, number> = {};
    for (const c of this.contacts.values()) {
      if (!c.isActive) continue;
      const name = contactGroupName(c.contactGroupId);
      activeByGroup[name] = (activeByGroup[name] ?? 0) + 1;
    }
    return {
      activeByGroup,
      leads: this.everLead.size,
      leadToMember: this.leadToMember,
      members: this.everMember.size,
      memberToPastMember: this.memberToPastMember,
    };
  }

  /** Subscribes `url` to every event (of one organization, or of the key's location); the secret is shown only now. */
  static async subscribe(
    apiUrl: string,
    apiKey: string,
    url: string,
    organizationId?: number,
  ): Promise<{ id: string; secret: string }> {
    const res = await fetch(`${apiUrl}/api/subscriptions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        url,
        description: 'partner-app example',
        ...(organizationId ? { organizationId } : {}),
      }),
    });
    if (res.status !== 201) throw new Error(`subscribing failed: ${res.status} ${await res.text()}`);
    return (await res.json()) as { id: string; secret: string };
  }

  /** Adds the event to its window and folds what the window has brought so far. */
  private fold(e: ContactEvent, ctx: DeliveryContext): ContactChange {
    const events = this.windows.get(ctx.windowId) ?? [];
    events.push(e);
    this.windows.set(ctx.windowId, events);
    if (this.windows.size > RECENT_WINDOWS) {
      const oldest = this.windows.keys().next();
      if (oldest.done !== true) this.windows.delete(oldest.value);
    }
    return foldWindow(events);
  }

  private countMove(
    contactId: number,
    from: ContactGroupId,
    to: ContactGroupId,
    change: ContactChange,
  ): void {
    const c = this.contacts.get(contactId);
    if (c) c.contactGroupId = to;
    // a contact created directly into a group is reported as a move from the location's default
    // group; it is where the contact started, not a conversion
    if (change.kind === 'created') {
      this.seenIn(contactId, to);
      return;
    }
    this.seenIn(contactId, from);
    if (to === ContactGroup.Members && this.everLead.has(contactId) && from !== ContactGroup.Members) {
      this.leadToMember++;
    }
    if (from === ContactGroup.Members && to === ContactGroup.PastMembers) this.memberToPastMember++;
    this.seenIn(contactId, to);
  }

  private seenIn(contactId: number, group: ContactGroupId): void {
    if (group === ContactGroup.Leads) this.everLead.add(contactId);
    if (group === ContactGroup.Members) this.everMember.add(contactId);
  }

  private async lookUp(contactId: number, change?: ContactChange): Promise<void> {
    const c = await this.get<MirroredContact>(`/api/contacts/${contactId}`);
    this.contacts.set(contactId, {
      contactId: c.contactId,
      locationId: c.locationId,
      isActive: c.isActive,
      contactGroupId: c.contactGroupId,
      subGroupId: c.subGroupId,
      firstName: c.firstName,
      lastName: c.lastName,
      email: c.email,
    });
    // where a new contact starts; its later moves come as contact.status_changed
    if (change?.kind === 'created') this.seenIn(contactId, c.contactGroupId);
    if (c.subGroupId !== null && !this.subGroups.get(c.locationId)?.has(c.subGroupId)) {
      await this.loadSubGroups(c.locationId);
    }
  }

  private async loadSubGroups(locationId: number): Promise<void> {
    const { data } = await this.get<{ data: { subGroupId: number; name: string }[] }>(
      `/api/locations/${locationId}/sub-groups`,
    );
    this.subGroups.set(locationId, new Map(data.map((g) => [g.subGroupId, g.name])));
  }

  private async get<T>(path: string): Promise<T> {
    const res = await fetch(`${this.opts.apiUrl}${path}`, {
      headers: { authorization: `Bearer ${this.opts.apiKey}` },
    });
    // a failure here fails the delivery: the SDK answers 500, releases the dedupe claim, and FPT retries
    if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }
}
