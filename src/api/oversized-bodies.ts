/** The most of a refused body the server reads and throws away to deliver its 413 (declared length). */
export const DRAIN_REFUSED_BODY_BYTES = 16 * 1024 * 1024;

/**
 * Whether an answer with `status` to a body of declared length `contentLength` keeps the
 * connection (`hardenResponses` then removes Fastify's `connection: close`). A body over the limit
 * is refused (413) as soon as its declared length says so, before it has arrived, and Fastify then
 * closes the connection. Closing a socket while the client's data is still unread makes the kernel
 * reset the connection, and a client still sending its body can lose the answer with it: the
 * bad-requests drill once saw "fetch failed" instead of the 413. A body declared at up to 16 MiB is
 * read and thrown away instead (Node's server does that for a body nobody read, on a connection
 * kept open), so the client gets its answer; a larger one still has the connection closed on it.
 */
export function drainsRefusedBody(status: number, contentLength: string | undefined): boolean {
  if (status !== 413 || contentLength === undefined || !/^\d{1,12}$/.test(contentLength)) return false;
  return Number(contentLength) <= DRAIN_REFUSED_BODY_BYTES;
}
