/**
 * End-to-end delivery: contact changes → windows → events → deliveries → HTTP POSTs acknowledged by
 * a local receiver (its own process), on each engine, beside the raw HTTP ceiling measured against
 * the same receiver in the same run.
 *
 *   npx tsx bench/deliver.ts [--engine pglite|postgres|both] [--contacts 20000] [--rate 1000] [--seconds 10]
 *
 * 1. ceiling: a plain undici Pool loop, 32 requests in flight, posting an envelope-sized body;
 * 2. throughput: `--contacts` contacts created in one burst (3 events each: created, status_changed,
 *    updated), one subscription; the coalescer and the delivery worker start and run until the
 *    receiver has every event; events/s over that span;
 * 3. latency: a writer creating contacts at `--rate` events/s for `--seconds`, with windows that
 *    close at once (quiet = 0); latency is from the window's close (the events' commit) to receipt.
 */
import { parseArgs } from 'node:util';
import { EVENTS_PER_CONTACT, fptFromWrites, fptLatency } from './fpt.js';
import { machine, parseEngines, progress, rate, rawCeiling, ReceiverProcess, summarize } from './lib.js';

const { values } = parseArgs({
  options: {
    engine: { type: 'string' },
    contacts: { type: 'string', default: '20000' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '10' },
  },
});
const CONTACTS = Number(values.contacts);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);

const receiver = await ReceiverProcess.start();
try {
  progress('raw HTTP ceiling');
  const raw = await rawCeiling(receiver.port, 100_000);
  console.log(
    `# delivery bench: ${machine()}; ${CONTACTS} contacts × ${EVENTS_PER_CONTACT} events; latency at ${RATE} events/s for ${SECONDS} s`,
  );
  console.log(`raw HTTP ceiling (undici Pool, 32 in flight, same receiver): ${raw} POSTs/s`);
  console.log(
    '| engine | delivered events/s (end to end) | share of ceiling | latency run: offered events/s | p50 | p99 | max |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const engine of parseEngines(values.engine)) {
    const t = await fptFromWrites(engine, receiver, CONTACTS);
    const l = await fptLatency(engine, receiver, RATE, SECONDS);
    const throughput = rate(t.events, t.deliverMs);
    const { p50, p99, max } = summarize(l.fromQueued);
    console.log(
      `| ${engine} | ${throughput} (${(t.deliverMs / 1000).toFixed(1)} s) | ${((100 * throughput) / raw).toFixed(0)}% | ${l.offered} | ${p50} ms | ${p99} ms | ${max} ms |`,
    );
  }
} finally {
  await receiver.stop();
}
