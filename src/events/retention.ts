import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { purgeAudit } from '../store/audit-log.js';
import type { Db } from '../store/db.js';
import { purgeIdempotencyKeys } from '../store/idempotency.js';
import { dropExpiredPartitions, ensurePartitions } from '../store/partitions.js';
import { purgePortalSessions } from '../store/portal-sessions.js';
import { purgeEvents, purgeHistory, purgeTestDeliveries } from '../store/retention.js';

/**
 * One round of retention: partitions created ahead (and the events' sequence moved on when the
 * current partition is old enough), expired partitions dropped, then one batch of each row-by-row
 * purge (portal links and sessions, and the closed-window log, included). Returns whether a purge filled its batch (more is waiting).
 */
export async function retentionRound(
  db: Db,
  config: Pick<Config, 'eventRetentionDays' | 'auditRetentionDays' | 'retention'>,
  log: Logger,
  batch: number,
): Promise<boolean> {
  const r = config.retention;
  const round = await ensurePartitions(db, { partitionDays: r.partitionDays });
  if (round.created.length > 0 || round.rolledOver)
    log.info({ current: round.current, created: round.created }, 'event partitions prepared');
  const dropped = await dropExpiredPartitions(db, config.eventRetentionDays);
  if (dropped.length > 0)
    log.info(
      { dropped, retentionDays: config.eventRetentionDays },
      'event partitions past retention dropped',
    );
  const counts = {
    events: await purgeEvents(db, config.eventRetentionDays, batch),
    testDeliveries: await purgeTestDeliveries(db, r.testDeliveryDays, batch),
    audit: await purgeAudit(db, config.auditRetentionDays, batch),
    history: r.historyDays === undefined ? 0 : await purgeHistory(db, r.historyDays, batch),
    idempotencyKeys: await purgeIdempotencyKeys(db, batch),
    // portal links and sessions a day after they expired; the closed-window log with the events
    portal: await purgePortalSessions(db, config.eventRetentionDays, batch),
  };
  if (Object.values(counts).some((n) => n > 0)) log.info(counts, 'rows past retention purged');
  return Object.values(counts).some((n) => n === batch);
}
