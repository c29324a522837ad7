import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Config } from './config.js';
import { isSealed, parseSecretsKeys, SecretBox } from './delivery/secret-box.js';
import type { Logger } from './log.js';
import type { Db } from './store/db.js';
import { countClearSecrets, resealSecrets } from './store/subscriptions.js';

/** The embedded store's sealing key, inside its data folder (beside the lock file). */
export const SEALING_KEY_FILE = 'fpt-events.secrets-key';

/**
 * The sealing key kept in the embedded store's data folder: read, or made on the first start
 * (32 random bytes, base64, readable and writable by the owner only). A key file others may read
 * is made owner-only again, and said so.
 */
export function dataDirSealingKey(dataDir: string, log: Logger): Buffer {
  const file = join(dataDir, SEALING_KEY_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    text = `${randomBytes(32).toString('base64')}\n`;
    // 'wx': never over a key another process has just written
    writeFileSync(file, text, { mode: 0o600, flag: 'wx' });
    log.warn(
      { file },
      'generated the key that seals signing secrets at rest, kept in the data folder (owner-only): back it up with the folder; without it sealed secrets cannot sign',
    );
  }
  if ((statSync(file).mode & 0o077) !== 0) {
    chmodSync(file, 0o600);
    log.warn({ file }, 'the sealing key file could be read by others; it is owner-only again');
  }
  try {
    return parseSecretsKeys(text.trim())[0]!;
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
}

/**
 * The config whose delivery settings hold the keys that seal signing secrets at rest, checked at
 * every start:
 *
 * - the embedded store always seals: with FPT_SECRETS_KEY when set, else with the key in its data
 *   folder (generated on the first start), which keeps opening what it sealed once FPT_SECRETS_KEY
 *   is set; secrets still in clear are sealed at start (one process holds the store);
 * - PostgreSQL seals with FPT_SECRETS_KEY (shared by every process); without it, every start warns
 *   that secrets are stored in clear, and with it, while some still are (until `seal-secrets`).
 */
export async function withSecretsSealing(db: Db, config: Config, log: Logger): Promise<Config> {
  const given = config.delivery.secretsKeys;
  if (db.engine === 'pglite') {
    const keys = [...(given ?? []), dataDirSealingKey(config.dataDir, log)];
    const box = new SecretBox(keys);
    const sealed = await resealSecrets(db, (stored, id) =>
      isSealed(stored) ? undefined : box.seal(stored, id),
    );
    if (sealed > 0) log.info({ sealed }, 'sealed the signing secrets stored in clear');
    return { ...config, delivery: { ...config.delivery, secretsKeys: keys } };
  }
  const clear = await countClearSecrets(db);
  if (given === undefined) {
    log.warn(
      { clearSecrets: clear },
      'signing secrets are stored in clear: set FPT_SECRETS_KEY (openssl rand -base64 32) on every process, then run `fpt-events seal-secrets`',
    );
  } else if (clear > 0) {
    log.warn(
      { clearSecrets: clear },
      'some signing secrets are still stored in clear: run `fpt-events seal-secrets` to seal them',
    );
  }
  return config;
}
