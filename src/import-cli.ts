import { createReadStream, readFileSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { createInterface } from 'node:readline';
import { Transform } from 'node:stream';
import { request } from 'undici';
import { CliError, EXIT, isNetworkError, rootMessage } from './cli/failure.js';

export interface ImportCliOptions {
  file: string;
  location: number;
  url: string;
  key: string;
  deactivateMissing: boolean;
  /** where progress goes (stderr), and the summary (stdout) */
  progress: (line: string) => void;
  out: (line: string) => void;
}

interface ErrorBody {
  code: string;
  message: string;
  field?: string;
}

interface Progress {
  phase: 'received' | 'checking' | 'writing' | 'deactivating';
  done: number;
  total: number;
}

/** One line of the server's NDJSON answer. */
type ImportLine = { progress: Progress } | { summary: Summary } | { error: ErrorBody };

const PHASES: Record<Progress['phase'], string> = {
  received: 'rows received by the service',
  checking: 'rows checked',
  writing: 'rows written',
  deactivating: 'missing contacts deactivated',
};

function progressLine(p: Progress): string {
  const pct = p.total === 0 ? 100 : Math.floor((p.done * 100) / p.total);
  return `${PHASES[p.phase]}: ${p.done.toLocaleString('en')} of ${p.total.toLocaleString('en')} (${pct}%)`;
}

interface Summary {
  total: number;
  created: number;
  updated: number;
  unchanged: number;
  deactivated: number;
  rejected: { row: number; code: string; field?: string; reason: string }[];
}

/**
 * `fpt-events import`: sends a CSV or JSON file to a running service's import endpoint. CSV goes
 * as a stream (the server parses it as it arrives), with the upload's progress shown; the server
 * does the work in one transaction, so the embedded store is never opened by two processes, and
 * reports its progress (rows checked, rows written) as NDJSON lines while it works.
 * Resolves to the exit code: 0 all rows applied, 3 some rows rejected (listed).
 */
export async function runImport(o: ImportCliOptions): Promise<number> {
  let size: number;
  try {
    size = statSync(o.file).size;
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new CliError(
      `cannot read ${o.file}: ${code === 'ENOENT' ? 'no such file' : rootMessage(err)}`,
      EXIT.usage,
    );
  }
  const isCsv = extname(o.file).toLowerCase() !== '.json';
  let body: string | Transform;
  if (isCsv) {
    let sent = 0;
    let shown = -1;
    body = createReadStream(o.file).pipe(
      new Transform({
        transform(chunk: Buffer, _enc, cb) {
          sent += chunk.length;
          const pct = size === 0 ? 100 : Math.floor((sent * 100) / size);
          if (pct >= shown + 10 || pct === 100) {
            shown = pct;
            o.progress(`uploaded ${pct}% (${(sent / 1e6).toFixed(1)} of ${(size / 1e6).toFixed(1)} MB)`);
          }
          cb(null, chunk);
        },
      }),
    );
  } else {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(o.file, 'utf8'));
    } catch (err) {
      throw new CliError(`${o.file} is not JSON: ${rootMessage(err)}`, EXIT.usage);
    }
    body = JSON.stringify(Array.isArray(parsed) ? { contacts: parsed } : parsed);
    o.progress(`read ${o.file} (${(size / 1e6).toFixed(1)} MB)`);
  }
  const url = new URL(`/api/locations/${o.location}/contacts/import`, o.url);
  if (o.deactivateMissing) url.searchParams.set('deactivateMissing', 'true');
  const started = Date.now();
  const res = await request(url, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${o.key}`,
      'content-type': isCsv ? 'text/csv' : 'application/json',
      // the server answers with progress lines while it works, then the summary
      accept: 'application/x-ndjson',
    },
    body,
    headersTimeout: 30 * 60_000,
    bodyTimeout: 30 * 60_000,
  }).catch((err: unknown) => {
    if (!isNetworkError(err)) throw err;
    throw new CliError(`cannot reach the service at ${o.url}: ${rootMessage(err)}`, EXIT.unreachable);
  });
  let answer: Summary | { error: ErrorBody } | undefined;
  let shown: { phase?: Progress['phase']; pct: number } = { pct: -1 };
  if (res.statusCode !== 200) {
    answer = (await res.body.json()) as { error: ErrorBody };
  } else {
    for await (const line of createInterface({ input: res.body, crlfDelay: Infinity })) {
      if (line.trim() === '') continue;
      const msg = JSON.parse(line) as ImportLine;
      if ('progress' in msg) {
        // the service reports every thousand rows; show every tenth of each phase
        const p = msg.progress;
        const pct = p.total === 0 ? 100 : Math.floor((p.done * 100) / p.total);
        if (p.phase !== shown.phase || pct >= shown.pct + 10 || (pct === 100 && shown.pct < 100)) {
          shown = { phase: p.phase, pct };
          o.progress(progressLine(p));
        }
      } else answer = 'summary' in msg ? msg.summary : msg;
    }
  }
  if (answer === undefined || 'error' in answer) {
    const e = answer?.error ?? {
      code: String(res.statusCode),
      message: 'the answer ended without a summary',
    };
    o.out(`import refused (${res.statusCode} ${e.code}): ${e.message}`);
    return 1;
  }
  o.out(
    `${answer.total} rows in ${((Date.now() - started) / 1000).toFixed(1)} s: created ${answer.created}, ` +
      `updated ${answer.updated}, unchanged ${answer.unchanged}, deactivated ${answer.deactivated}, ` +
      `rejected ${answer.rejected.length}`,
  );
  for (const r of answer.rejected.slice(0, 50)) {
    o.out(`  row ${r.row}: ${r.reason}${r.field ? ` [${r.field}]` : ''}`);
  }
  if (answer.rejected.length > 50) o.out(`  … and ${answer.rejected.length - 50} more`);
  return answer.rejected.length > 0 ? 3 : 0;
}
