/**
 * `fn`, to be run once at the end of this turn of the event loop however often it is asked for in
 * the turn (`setImmediate`): the single writes and reads start their batches this way, so that the
 * requests handled in one turn share one (docs/design.md, "The front door").
 */
export function onceAtEndOfTurn(fn: () => void): () => void {
  let scheduled = false;
  return () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      fn();
    });
  };
}
