/**
 * What the service's thread and the embedded engine's thread say to each other
 * (`pglite-thread.ts` and `pglite-worker.ts`).
 */

/** The engine thread's start: where the data lives and PostgreSQL's start arguments. */
export interface EngineStart {
  /** the data folder (in memory when undefined) */
  dataDir: string | undefined;
  params: string[];
}

/**
 * `prelude`: statements without parameters run just before the request, in the same message (a
 * transaction's BEGIN with its first statement, a test's `search_path`): one round trip between
 * the threads instead of two.
 */
export type EngineRequest = { id: number; prelude?: string } & (
  | {
      op: 'query';
      text: string;
      params: readonly unknown[];
      /**
       * the statement runs in a transaction planned with index lookups only (`INDEX_LOOKUPS_ONLY`):
       * it is kept prepared apart from the same text planned without them
       */
      lookupsOnly?: boolean;
    }
  /** a script of statements without parameters (ROLLBACK, migrations) */
  | { op: 'exec'; text: string }
  /** COMMIT, failing when the transaction had failed and COMMIT rolled it back */
  | { op: 'commit' }
  | { op: 'close' }
);

/** The fields of a database error that `DbError` and the service read, and only those. */
export interface SerializedDbError {
  message: string;
  code: string | undefined;
  constraint: string | undefined;
  routine: string | undefined;
}

export type EngineReply = { id: number; memoryBytes?: number } & (
  { rows: object[]; rowCount: number } | { error: SerializedDbError }
);

/** The engine thread's first message. */
export type EngineStarted = { ready: true; memoryBytes: number } | { startError: string };
