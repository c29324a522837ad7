/**
 * A failure at start (the store cannot be opened, the port cannot be bound), said in one line
 * naming what was tried; `unreachable` when a network address could not be reached. (A module of
 * its own so that the command line can recognise it without loading the service.)
 */
export class StartupError extends Error {
  override name = 'StartupError';
  constructor(
    message: string,
    readonly unreachable: boolean,
    options?: { cause: unknown },
  ) {
    super(message, options);
  }
}
