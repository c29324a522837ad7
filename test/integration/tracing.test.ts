import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { fireDueTimers } from '../../src/automation/scheduler.js';
import { closeDueWindows } from '../../src/events/close-windows.js';
import { createLogger } from '../../src/log.js';
import { tracer, tracingOn } from '../../src/tracing/context.js';
import { SingleWrites, type Derive } from '../../src/contacts/single-writes.js';
import { startTracing, type Tracing } from '../../src/tracing/start.js';
import { testConfig } from '../helpers/api.js';
import {
  contactAt,
  deliverySettings,
  receiverTest,
  startDeliveryWorker,
  subscribe,
  waitForDeliveries,
} from '../helpers/delivery.js';
import { closeAllWindows } from '../helpers/events.js';

const DAY = 86_400_000;

interface Traced {
  tracing: Tracing;
  exported: InMemorySpanExporter;
}

/**
 * Tracing on, through the path the OTEL_* variables take (`loadConfig` → `startTracing`), with the
 * SDK's in-memory exporter in place of the OTLP one the variables name; started before the API is
 * built (its request spans are installed only while tracing is on), stopped after the test.
 */
const tracedTest = receiverTest.extend<{ traced: Traced; apiConfig: Config }>({
  // eslint-disable-next-line no-empty-pattern -- vitest fixtures must destructure their context
  traced: async ({}, use) => {
    const settings = loadConfig({ OTEL_TRACES_EXPORTER: 'otlp' }).tracing;
    expect(settings).toEqual({ exporters: ['otlp'], protocol: 'http/protobuf' });
    const exported = new InMemorySpanExporter();
    const tracing = await startTracing(settings!, createLogger('silent'), { exporters: [exported] });
    try {
      await use({ tracing, exported });
    } finally {
      await tracing.stop();
    }
  },
  apiConfig: async ({ traced }, use) => {
    expect(traced).toBeDefined();
    await use(testConfig({ delivery: deliverySettings() }));
  },
});

const hex = (s: ReadableSpan) => s.spanContext();
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
const named = (spans: ReadableSpan[], name: string) => spans.filter((s) => s.name === name);
const one = (spans: ReadableSpan[], name: string) => {
  const found = named(spans, name);
  expect(found.map((s) => s.name)).toEqual([name]);
  return found[0]!;
};

describe('traces across write, window, events and deliveries', () => {
  tracedTest(
    'one PATCH: its request, the window, the events and each delivery attempt are one trace; the partner gets traceparent',
    async ({ api, tenant, receiver, worker, traced }) => {
      expect(tracingOn()).toBe(true);
      const contactId = await contactAt(api, tenant.locA);
      await closeAllWindows(api.db); // the creation's window (no subscription yet)
      const sub = await subscribe(api, tenant.keys.orgPartner, {
        url: receiver.url,
        locationId: tenant.locA,
        eventTypes: ['contact.status_changed', 'contact.updated'],
      });
      expect(worker).toBeDefined();
      await traced.tracing.flush(); // what came before is not this test's
      traced.exported.reset();

      const res = await api.patch(`/api/contacts/${contactId}`, { contactGroupId: 3 });
      expect(res.status).toBe(200);
      await closeAllWindows(api.db);
      await waitForDeliveries(api, sub.id, 'succeeded', 2, 'both deliveries');
      await traced.tracing.flush();
      const spans = traced.exported.getFinishedSpans();

      const request = one(spans, 'PATCH /api/contacts/:contactId');
      expect(request.kind).toBe(SpanKind.SERVER);
      expect(request.attributes['http.response.status_code']).toBe(200);
      const window = one(spans, 'contact.window');
      const statusChanged = one(spans, 'emit contact.status_changed');
      const updated = one(spans, 'emit contact.updated');
      const attempts = named(spans, 'POST');
      expect(attempts).toHaveLength(2);

      const traceId = hex(request).traceId;
      for (const s of [window, statusChanged, updated, ...attempts]) expect(hex(s).traceId).toBe(traceId);
      expect(parentOf(window)).toBe(hex(request).spanId);
      expect(window.links).toEqual([]);
      expect(window.attributes).toMatchObject({ 'fpt.contact.id': contactId, 'fpt.window.changes': 1 });
      expect(parentOf(statusChanged)).toBe(hex(window).spanId);
      expect(parentOf(updated)).toBe(hex(window).spanId);
      const byEvent = new Map(attempts.map((a) => [a.attributes['fpt.event.type'], a]));
      expect(parentOf(byEvent.get('contact.status_changed')!)).toBe(hex(statusChanged).spanId);
      expect(parentOf(byEvent.get('contact.updated')!)).toBe(hex(updated).spanId);
      for (const a of attempts) {
        expect(a.kind).toBe(SpanKind.CLIENT);
        expect(a.attributes).toMatchObject({
          'http.response.status_code': 200,
          'fpt.delivery.outcome': 'succeeded',
          'fpt.subscription.id': sub.id,
          'fpt.delivery.attempt': 1,
        });
      }

      // each delivery carries its attempt's span as traceparent, for the partner's own tracing
      const received = await receiver.waitFor(2);
      for (const r of received) {
        const attempt = attempts.find((a) => a.attributes['fpt.event.id'] === r.body.eventId)!;
        expect(r.headers.traceparent).toBe(`00-${traceId}-${hex(attempt).spanId}-01`);
      }
    },
  );

  tracedTest(
    'a window that merges writes: the first write is its parent, the others its links; a retry is a second attempt span',
    async ({ api, db, tenant, receiver, traced }) => {
      const contactId = await contactAt(api, tenant.locA);
      await closeAllWindows(db);
      const sub = await subscribe(api, tenant.keys.orgPartner, {
        url: receiver.url,
        locationId: tenant.locA,
        eventTypes: ['contact.updated'],
      });
      await traced.tracing.flush(); // what came before is not this test's
      traced.exported.reset();
      for (const firstName of ['Ada', 'Grace', 'Ada']) {
        expect((await api.patch(`/api/contacts/${contactId}`, { firstName })).status).toBe(200);
      }
      // the first attempt is refused (503), the second accepted: both are spans of the event
      let calls = 0;
      receiver.answer((_r, res) => {
        res.writeHead(++calls === 1 ? 503 : 200).end();
      });
      // closed as the coalescer closes it, handing the delivery straight to the local worker (the
      // retry then goes through a claim)
      const worker = await startDeliveryWorker(db);
      try {
        const closed = await closeDueWindows(db, {
          limit: 10,
          horizonMs: DAY,
          handOff: worker.handOffBudget(),
        });
        expect(closed.handedOff.flat()).toHaveLength(1);
        worker.accept(closed.handedOff);
        await waitForDeliveries(api, sub.id, 'succeeded', 1, 'the delivery, after its retry');
      } finally {
        await worker.stop();
      }
      await traced.tracing.flush();
      const spans = traced.exported.getFinishedSpans();
      const writes = named(spans, 'PATCH /api/contacts/:contactId');
      expect(writes).toHaveLength(3);
      const window = one(spans, 'contact.window');
      expect(hex(window).traceId).toBe(hex(writes[0]!).traceId);
      expect(parentOf(window)).toBe(hex(writes[0]!).spanId);
      expect(window.links.map((l) => l.context.spanId)).toEqual([
        hex(writes[1]!).spanId,
        hex(writes[2]!).spanId,
      ]);
      expect(window.attributes['fpt.window.changes']).toBe(3);
      const event = one(spans, 'emit contact.updated');
      const attempts = named(spans, 'POST');
      expect(attempts.map((a) => a.attributes['fpt.delivery.attempt'])).toEqual([1, 2]);
      expect(attempts.map((a) => a.attributes['http.response.status_code'])).toEqual([503, 200]);
      expect(attempts[0]!.attributes['error.type']).toBe('503');
      for (const a of attempts) {
        expect(parentOf(a)).toBe(hex(event).spanId);
        expect(hex(a).traceId).toBe(hex(writes[0]!).traceId);
      }
      const headers = receiver.received.map((r) => r.headers.traceparent);
      expect(headers).toEqual(attempts.map((a) => `00-${hex(a).traceId}-${hex(a).spanId}-01`));
    },
  );

  tracedTest(
    'an import and a time-triggered rule: their windows are children of the import request and of the scheduler span',
    async ({ api, db, tenant, traced }) => {
      await api.create(`/api/locations/${tenant.locA}/automations`, {
        name: 'trial ended',
        trigger: { type: 'time', field: 'trialEndsAt' },
        conditions: [],
        action: { set: { contactGroupId: 4 } },
      });
      const trialEndsAt = new Date(Date.now() + DAY).toISOString();
      const res = await api.post(`/api/locations/${tenant.locA}/contacts/import`, {
        contacts: [{ firstName: 'Ada', trialEndsAt }, { firstName: 'Grace' }],
      });
      expect(res.body).toMatchObject({ created: 2 });
      await closeAllWindows(db);
      expect(
        await fireDueTimers(db, {
          coalesce: testConfig().coalesce,
          log: createLogger('silent'),
          horizonMs: 2 * DAY,
        }),
      ).toEqual({
        timers: 1,
        changed: 1,
      });
      await closeAllWindows(db);
      await traced.tracing.flush();
      const spans = traced.exported.getFinishedSpans();
      const importRequest = one(spans, 'POST /api/locations/:locationId/contacts/import');
      const rules = one(spans, 'automation.time_triggers');
      const windows = named(spans, 'contact.window');
      expect(windows).toHaveLength(3);
      const [ada, grace, fired] = windows;
      for (const w of [ada!, grace!]) {
        expect(parentOf(w)).toBe(hex(importRequest).spanId);
        expect(hex(w).traceId).toBe(hex(importRequest).traceId);
      }
      expect(parentOf(fired!)).toBe(hex(rules).spanId);
      expect(hex(fired!).traceId).toBe(hex(rules).traceId);
      expect(one(spans, 'emit contact.status_changed').parentSpanContext?.spanId).toBe(hex(fired!).spanId);
    },
  );

  receiverTest(
    'tracing off: no traceparent header, no span, and nothing written to the trace columns',
    async ({ api, db, tenant, receiver, worker }) => {
      expect(tracingOn()).toBe(false);
      expect(worker).toBeDefined();
      const contactId = await contactAt(api, tenant.locA);
      await closeAllWindows(db);
      const sub = await subscribe(api, tenant.keys.orgPartner, {
        url: receiver.url,
        locationId: tenant.locA,
        eventTypes: ['contact.status_changed'],
      });
      await api.patch(`/api/contacts/${contactId}`, { contactGroupId: 3 });
      const { rows: windows } = await db.query<{ traceparent: string | null }>(
        'SELECT traceparent, trace_links FROM contact_windows',
      );
      expect(windows).toEqual([{ traceparent: null, trace_links: null }]);
      await closeAllWindows(db);
      await waitForDeliveries(api, sub.id, 'succeeded', 1, 'the delivery');
      const [r] = await receiver.waitFor(1);
      expect(r!.headers).not.toHaveProperty('traceparent');
      expect(r!.headers['webhook-signature']).toBeDefined();
      const { rows: events } = await db.query<{ traceparent: string | null }>(
        'SELECT traceparent FROM events',
      );
      expect(events.every((e) => e.traceparent === null)).toBe(true);
    },
  );

  tracedTest(
    'writes that share a commit: each window keeps the trace of the request that asked for its change',
    async ({ api, tenant }) => {
      const ids: number[] = [];
      for (let i = 0; i < 5; i++) ids.push(await contactAt(api, tenant.locA));
      await closeAllWindows(api.db);
      const writes = new SingleWrites(api.db, { quietMs: 60_000, maxMs: 60_000 });
      const meta = { source: 'api' as const, actorType: 'system' as const, actorId: null };
      const toMember: Derive = async (before) => ({
        after: { ...before, contactGroupId: 3 },
        operation: 'update',
      });
      // the first write's commit is held open until the other four are queued: they share the next one
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let first!: () => void;
      const firstDeriving = new Promise<void>((r) => (first = r));
      const asked = ids.map((contactId, i) =>
        tracer()!.startActiveSpan(`request ${i}`, (span) => {
          const derive: Derive =
            i === 0
              ? async (before, q) => {
                  first();
                  await held;
                  return toMember(before, q);
                }
              : toMember;
          const done = writes.write({ contactId, meta, log: console, derive });
          span.end();
          return done.then(() => span.spanContext().traceId);
        }),
      );
      await firstDeriving;
      release();
      const traceIds = await Promise.all(asked);
      expect(new Set(traceIds).size).toBe(5);
      const { rows } = await api.db.query<{ contact_id: string | number; traceparent: string | null }>(
        'SELECT contact_id, traceparent FROM contact_windows WHERE contact_id = ANY($1::bigint[])',
        [ids],
      );
      const windowTrace = new Map(rows.map((r) => [Number(r.contact_id), r.traceparent?.split('-')[1]]));
      expect(ids.map((id) => windowTrace.get(id))).toEqual(traceIds);
    },
  );
});
