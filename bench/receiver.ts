/**
 * The partner endpoint for benchmarks, in its own process so that it does not share an event loop
 * with the service. Answers 200 at once and notes when each event arrived. Driven over IPC:
 * `count` → number received; `receipts` → [eventId, ms since epoch][]; `reset`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

let receipts: [string, number][] = [];
let count = 0;

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const at = Date.now();
    count++;
    const id = req.headers['webhook-id'];
    if (typeof id === 'string') receipts.push([id, at]);
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
