/**
 * Steady load through the public API: creates contacts, then keeps changing them (fields, contact
 * group, sub-group, delete, reactivate), several changes per contact over time, so per-contact
 * order matters. It tolerates a service that is down: a write without an answer has an unknown
 * outcome and is simply not counted as acknowledged; the checker compares against the store.
 */
import type { Acked } from './check.js';
import { call, type Tenant } from './api.js';

export interface LoadStats {
  sent: number;
  acked: number;
  /** no answer: refused, reset or timed out (unknown outcome) */
  noAnswer: number;
  /** status → count, for answers other than 2xx */
  statuses: Map<number, number>;
}

interface Known {
  id: number;
  /** what the generator knows: active, inactive, or unknown after a write without an answer */
  state: 'active' | 'inactive' | 'unknown';
  busy: boolean;
}

export class Load {
  readonly acked: Acked = { created: new Set(), maxN: new Map() };
  readonly stats: LoadStats = { sent: 0, acked: 0, noAnswer: 0, statuses: new Map() };
  private readonly contacts: Known[] = [];
  private n = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight = new Set<Promise<void>>();
  private creating = 0;
  private started = 0;
  private dispatched = 0;

  constructor(
    private readonly base: () => string,
    private readonly tenant: Tenant,
    private readonly opts: { rate: number; contacts: number; maxInFlight?: number },
  ) {}

  start(): void {
    this.started = Date.now();
    this.dispatched = 0;
    this.timer = setInterval(() => this.tick(), 10);
  }

  /** Stops sending and waits for the answers of what is in flight. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.inFlight]);
  }

  private tick(): void {
    const due = Math.floor(((Date.now() - this.started) * this.opts.rate) / 1000);
    const max = this.opts.maxInFlight ?? 32;
    while (this.dispatched < due && this.inFlight.size < max) {
      this.dispatched++;
      const p = this.one().finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
    }
    // behind by more than a second's worth (service down): drop the backlog rather than burst later
    if (due - this.dispatched > this.opts.rate) this.dispatched = due;
  }

  private async one(): Promise<void> {
    if (this.contacts.length + this.creating < this.opts.contacts && Math.random() < 0.3)
      return this.create();
    const free = this.contacts.filter((c) => !c.busy);
    const c = free[Math.floor(Math.random() * free.length)];
    if (c === undefined) return this.create();
    c.busy = true;
    try {
      await this.change(c);
    } finally {
      c.busy = false;
    }
  }

  private async send(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown } | undefined> {
    this.stats.sent++;
    try {
      const a = await call(this.base(), this.tenant.key, method, path, body);
      if (a.status >= 200 && a.status < 300) this.stats.acked++;
      else this.stats.statuses.set(a.status, (this.stats.statuses.get(a.status) ?? 0) + 1);
      return a;
    } catch {
      this.stats.noAnswer++;
      return undefined;
    }
  }

  private async create(): Promise<void> {
    if (this.contacts.length + this.creating >= this.opts.contacts) return;
    this.creating++;
    const n = ++this.n;
    try {
      const a = await this.send('POST', `/api/locations/${this.tenant.locationId}/contacts`, {
        firstName: `Drill${n}`,
        email: `drill${n}@example.com`,
        contactGroupId: 1 + Math.floor(Math.random() * 3),
        customFields: { n },
      });
      const id = (a?.body as { contactId?: unknown } | undefined)?.contactId;
      if (a?.status === 201 && typeof id === 'number') {
        this.acked.created.add(id);
        this.acked.maxN.set(id, n);
        this.contacts.push({ id, state: 'active', busy: false });
      }
    } finally {
      this.creating--;
    }
  }

  private async change(c: Known): Promise<void> {
    if (c.state === 'unknown') {
      // learn the state first: changes are only made to contacts known to be active (an inactive
      // contact emits no events, so a change made while inactive would be invisible to partners)
      const a = await this.send('GET', `/api/contacts/${c.id}`);
      if (a?.status === 200) c.state = (a.body as { isActive: boolean }).isActive ? 'active' : 'inactive';
      return;
    }
    if (c.state === 'inactive') {
      const a = await this.send('POST', `/api/contacts/${c.id}/reactivate`);
      c.state = a === undefined ? 'unknown' : a.status === 200 ? 'active' : c.state;
      return;
    }
    const r = Math.random();
    if (r < 0.1) {
      const a = await this.send('DELETE', `/api/contacts/${c.id}`);
      c.state = a === undefined ? 'unknown' : a.status === 200 ? 'inactive' : c.state;
      return;
    }
    const n = ++this.n;
    const body: Record<string, unknown> = { customFields: { n } };
    if (r < 0.35) body.contactGroupId = 1 + Math.floor(Math.random() * 7);
    else if (r < 0.5)
      body.subGroupId = [null, ...this.tenant.subGroups][Math.floor(Math.random() * 3)] ?? null;
    else body.lastName = `L${n}`;
    const a = await this.send('PATCH', `/api/contacts/${c.id}`, body);
    if (a === undefined) c.state = 'unknown';
    else if (a.status === 200) this.acked.maxN.set(c.id, Math.max(n, this.acked.maxN.get(c.id) ?? 0));
  }

  summary(): string {
    const other = [...this.stats.statuses].map(([s, k]) => `${s}×${k}`).join(' ');
    return `${this.stats.sent} requests, ${this.stats.acked} acknowledged, ${this.stats.noAnswer} unanswered${other ? `, other answers ${other}` : ''}`;
  }
}
