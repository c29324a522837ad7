import type { FastifyInstance } from 'fastify';
import { operatorKeyFromToken } from '../../src/api/auth.js';
import { buildApi } from '../../src/api/server.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import type { Metrics } from '../../src/metrics.js';
import type { Db } from '../../src/store/db.js';
import { checkAnswersAgainstContract } from './contract.js';
import { dbTest } from './db.js';

export const OPERATOR_KEY = 'test-operator-key-0123456789';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read whatever JSON came back and assert on it
export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Record<string, unknown>;
}

export interface CallOptions {
  key?: string | null;
  body?: unknown;
  /** a raw payload sent as is (malformed JSON and the like) */
  raw?: string;
  headers?: Record<string, string>;
}

export class TestApi {
  /** answers that broke their route's contract (checkAnswersAgainstContract) */
  readonly contractViolations: string[] = [];

  constructor(
    readonly app: FastifyInstance,
    readonly db: Db,
  ) {
    checkAnswersAgainstContract(app, this.contractViolations);
  }

  async call(method: string, url: string, opts: CallOptions = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...opts.headers };
    const key = opts.key === undefined ? OPERATOR_KEY : opts.key;
    if (key !== null) headers.authorization = `Bearer ${key}`;
    let payload: string | undefined;
    if (opts.raw !== undefined) payload = opts.raw;
    else if (opts.body !== undefined) payload = JSON.stringify(opts.body);
    if (payload !== undefined) headers['content-type'] ??= 'application/json';
    const res = await this.app.inject({
      method: method as 'GET',
      url,
      headers,
      ...(payload !== undefined ? { payload } : {}),
    });
    let body: unknown = res.body;
    try {
      body = res.body === '' ? undefined : JSON.parse(res.body);
    } catch {
      // not JSON: leave the text for the assertion to show
    }
    const violation = this.contractViolations.shift();
    if (violation !== undefined) throw new Error(`contract: ${violation}`);
    return { status: res.statusCode, body, headers: res.headers };
  }

  get = (url: string, opts?: CallOptions) => this.call('GET', url, opts);
  post = (url: string, body?: unknown, opts?: CallOptions) => this.call('POST', url, { ...opts, body });
  patch = (url: string, body?: unknown, opts?: CallOptions) => this.call('PATCH', url, { ...opts, body });
  delete = (url: string, opts?: CallOptions) => this.call('DELETE', url, opts);

  /** POST that must succeed; returns the body. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as Reply: the caller asserts on the JSON
  async create<T = any>(url: string, body: unknown, key?: string): Promise<T> {
    const res = await this.post(url, body, { key });
    if (res.status !== 201) throw new Error(`POST ${url} → ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as T;
  }
}

export function testConfig(overrides: Partial<Config> = {}): Config {
  return { ...loadConfig({}), adminToken: OPERATOR_KEY, logLevel: 'silent', ...overrides };
}

export function createTestApi(db: Db, config: Config = testConfig(), metrics?: Metrics): TestApi {
  const app = buildApi({
    db,
    config,
    operatorKey: operatorKeyFromToken(OPERATOR_KEY),
    logger: createLogger({ level: config.logLevel, format: config.logFormat }),
    ...(metrics ? { metrics } : {}),
  });
  return new TestApi(app, db);
}

/** `n` contacts created at a location through the API (named C0, C1, …); their ids in order. */
export async function createContacts(api: TestApi, loc: number, n: number): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < n; i++)
    ids.push((await api.create(`/api/locations/${loc}/contacts`, { firstName: `C${i}` })).contactId);
  return ids;
}

/** An organization with two locations, a location with none, and keys of every kind. */
export interface Tenant {
  orgId: number;
  locA: number;
  locB: number;
  /** a location without an organization */
  locSolo: number;
  /** another organization's location */
  otherLoc: number;
  keys: {
    orgStaff: string;
    orgPartner: string;
    locAStaff: string;
    locAPartner: string;
    otherStaff: string;
  };
}

export async function createTenant(api: TestApi): Promise<Tenant> {
  const org = await api.create('/api/organizations', { name: 'Iron Temple' });
  const other = await api.create('/api/organizations', { name: 'Other Gym Co' });
  const locA = await api.create('/api/locations', { name: 'Downtown', organizationId: org.id });
  const locB = await api.create('/api/locations', { name: 'Uptown', organizationId: org.id });
  const locSolo = await api.create('/api/locations', { name: 'Solo Studio' });
  const otherLoc = await api.create('/api/locations', { name: 'Elsewhere', organizationId: other.id });
  const key = async (role: string, scope: object) =>
    (await api.create('/api/api-keys', { role, ...scope })).key as string;
  return {
    orgId: org.id,
    locA: locA.id,
    locB: locB.id,
    locSolo: locSolo.id,
    otherLoc: otherLoc.id,
    keys: {
      orgStaff: await key('staff', { organizationId: org.id }),
      orgPartner: await key('partner', { organizationId: org.id }),
      locAStaff: await key('staff', { locationId: locA.id }),
      locAPartner: await key('partner', { locationId: locA.id }),
      otherStaff: await key('staff', { organizationId: other.id }),
    },
  };
}

/** `test` with an `api` (in-process, on a fresh schema, configured by `apiConfig`) and a `tenant` in it. */
export const apiTest = dbTest.extend<{ apiConfig: Config; api: TestApi; tenant: Tenant }>({
  // eslint-disable-next-line no-empty-pattern -- vitest fixtures must destructure their context
  apiConfig: async ({}, use) => {
    await use(testConfig());
  },
  api: async ({ db, apiConfig }, use) => {
    const api = createTestApi(db, apiConfig);
    try {
      await use(api);
    } finally {
      await api.app.close();
    }
  },
  tenant: async ({ api }, use) => {
    await use(await createTenant(api));
  },
});
