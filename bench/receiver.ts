/**
 * The partner endpoint for benchmarks, in its own process so that it does not share an event loop
 * with the service. Answers 200 at once and notes when each event arrived. Driven over IPC:
 * `count` → number received; `receipts` → [eventId, ms since epoch, data.contactId][]; `reset`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

let receipts: [string, number, number | null][] = [];
let count = 0;

/** The event's `data.contactId` (bench/api.ts matches arrivals to writes with it), if any. */
function contactIdOf(chunks: Buffer[]): number | null {
  try {
    const id = (JSON.parse(Buffer.concat(chunks).toString()) as { data?: { contactId?: unknown } }).data
      ?.contactId;
    return typeof id === 'number' ? id : null;
  } catch {
    return null;
  }
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const at = Date.now();
    count++;
    const id = req.headers['webhook-id'];
    if (typeof id === 'string') receipts.push([id, at, contactIdOf(chunks)]);
    res.writeHead(200, { 'content-length': '2' }).end('ok');
  });
});
server.keepAliveTimeout = 30_000;

server.listen(0, '127.0.0.1', () => {
  process.send!({ port: (server.address() as AddressInfo).port });
});

process.on('message', (msg: { cmd: string }) => {
  if (msg.cmd === 'count') process.send!({ count });
  else if (msg.cmd === 'receipts') process.send!({ receipts });
  else if (msg.cmd === 'reset') {
    receipts = [];
    count = 0;
    process.send!({ reset: true });
  } else if (msg.cmd === 'exit') server.close(() => process.exit(0));
});
