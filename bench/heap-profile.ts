/**
 * A V8 sampling heap profile (`.heapprofile`, as DevTools and bench/memory-probe.mjs write it)
 * summed two ways: by the function that allocated, and by the nearest frame of this project's
 * own code (dist/ or src/) above it, which says which of our operations the bytes were for.
 *
 *   npx tsx bench/heap-profile.ts <file.heapprofile> [--top 25]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

export interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

const frameName = (n: ProfileNode) =>
  `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(node_modules|dist|src)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
const ours = (n: ProfileNode) =>
  /\/(dist|src)\//.test(n.callFrame.url) && !n.callFrame.url.includes('node_modules');

export function summarizeProfile(head: ProfileNode): {
  total: number;
  bySelf: Map<string, number>;
  byOurs: Map<string, number>;
} {
  const bySelf = new Map<string, number>();
  const byOurs = new Map<string, number>();
  let total = 0;
  const walk = (n: ProfileNode, ourFrame: string | undefined) => {
    const here = ours(n) ? frameName(n) : ourFrame;
    if (n.selfSize > 0) {
      total += n.selfSize;
      const k = frameName(n);
      bySelf.set(k, (bySelf.get(k) ?? 0) + n.selfSize);
      const o = here ?? '(none of ours)';
      byOurs.set(o, (byOurs.get(o) ?? 0) + n.selfSize);
    }
    for (const c of n.children) walk(c, here);
  };
  walk(head, undefined);
  return { total, bySelf, byOurs };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({ options: { top: { type: 'string' } }, allowPositionals: true });
  const top = Number(values.top ?? 25);
  const profile = JSON.parse(readFileSync(positionals[0]!, 'utf8')) as { head: ProfileNode };
  const s = summarizeProfile(profile.head);
  const MB = 1024 * 1024;
  const show = (title: string, m: Map<string, number>) => {
    console.log(`\n${title}`);
    for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top))
      console.log(
        `${(v / MB).toFixed(1).padStart(8)} MB ${((100 * v) / s.total).toFixed(1).padStart(5)}%  ${k}`,
      );
  };
  console.log(`sampled: ${(s.total / MB).toFixed(1)} MB`);
  show('by allocating function', s.bySelf);
  show('by the nearest frame of our own code', s.byOurs);
}
