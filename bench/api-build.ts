/**
 * How long building the API and making it ready takes (every `serve` start, and every test that
 * builds one): Fastify's default response serializer (a fast-json-stringify compilation per route
 * and status, at ready) against this project's (each distinct schema compiled once per process, on
 * first use: src/api/openapi/serializer.ts). Alternated in one process, medians.
 *
 *   npx tsx bench/api-build.ts [--builds 15] [--rounds 3]
 */
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import type { FastifySerializerCompiler } from 'fastify/types/schema.js';
import { parseArgs } from 'node:util';
import { operatorKeyFromToken } from '../src/api/auth.js';
import { buildApi } from '../src/api/server.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import type { Db } from '../src/store/db.js';

const { values } = parseArgs({ options: { builds: { type: 'string' }, rounds: { type: 'string' } } });
const builds = Number(values.builds ?? 15);
const rounds = Number(values.rounds ?? 3);
const config = { ...loadConfig({}), logLevel: 'silent' as const };

async function buildMs(serializer: 'default' | 'cached'): Promise<number> {
  const t0 = performance.now();
  const app = buildApi({
    db: {} as Db, // never queried: nothing is requested
    config,
    operatorKey: operatorKeyFromToken('x'.repeat(32)),
    logger: createLogger('silent'),
  });
  // Fastify's own compiler, as it is without one set (it takes effect for routes added at ready)
  if (serializer === 'default') {
    // (the package types its compiler's route definition a little narrower than Fastify's; same function)
    const compiler = SerializerSelector()({}, {}) as unknown as FastifySerializerCompiler<unknown>;
    app.setSerializerCompiler(compiler);
  }
  await app.ready();
  const ms = performance.now() - t0;
  await app.close();
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (let r = 1; r <= rounds; r++) {
  const out: string[] = [];
  for (const kind of ['default', 'cached'] as const) {
    const times: number[] = [];
    for (let i = 0; i < builds; i++) times.push(await buildMs(kind));
    out.push(`${kind} median ${median(times).toFixed(0)} ms (first ${times[0]!.toFixed(0)} ms)`);
  }
  console.log(`round ${r}: ${out.join(', ')}`);
}
