import type pg from 'pg';

/** node-postgres's socket to the server (its own, undocumented: `client.connection.stream`). */
type WithStream = { connection?: { stream?: { cork?(): void; uncork?(): void } } };

/** Sessions whose socket is held (corked) until the end of the turn. */
const held = new WeakSet<pg.ClientBase>();

/**
 * Holds what is sent on a session until the promise chains of the current turn of the event loop
 * have run, then sends it all in one socket write: a transaction's BEGIN, the statements its body
 * sends before waiting for an answer and, when the body ends without waiting (the single writes'
 * batch, src/contacts/single-writes.ts), its COMMIT. node-postgres writes BEGIN and COMMIT (simple
 * queries) one write each, and each statement's messages in one more; on loopback, where the
 * server and the service share the machine's cores, each write also wakes the server's session to
 * read it: the writes to PostgreSQL took about a sixth of the service's main thread under load
 * (BENCHMARKS.md, "Session 17").
 *
 * The socket is let go from a `process.nextTick` queued by a microtask: Node runs ticks queued
 * during a microtask checkpoint once the whole checkpoint is done, so everything that the turn's
 * promise chains send goes in the write, and nothing waits for more than the rest of the turn (a
 * statement whose answer is awaited is still sent in the same turn: no deadlock).
 */
export function sendTogether(client: pg.ClientBase): void {
  if (held.has(client)) return;
  const stream = (client as unknown as WithStream).connection?.stream;
  if (!stream?.cork || !stream.uncork) return;
  held.add(client);
  stream.cork();
  queueMicrotask(() =>
    process.nextTick(() => {
      held.delete(client);
      stream.uncork!();
    }),
  );
}
