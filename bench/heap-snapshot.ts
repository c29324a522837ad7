/**
 * A V8 heap snapshot (`.heapsnapshot`, as `node --heapsnapshot-signal` writes it) summed by what
 * holds the bytes, and two such summaries compared: which kinds of object grew between them.
 */
import { readFileSync } from 'node:fs';

interface RawSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** kind → objects and their own bytes (objects by constructor, closures by function name) */
export type HeapSummary = Map<string, { count: number; bytes: number }>;

export function summarizeSnapshot(file: string): HeapSummary {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as RawSnapshot;
  const fields = raw.snapshot.meta.node_fields;
  const types = raw.snapshot.meta.node_types[0];
  const [iType, iName, iSize] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [
    number,
    number,
    number,
  ];
  const out: HeapSummary = new Map();
  for (let i = 0; i < raw.nodes.length; i += fields.length) {
    const type = types[raw.nodes[i + iType]!]!;
    const kind =
      type === 'object' || type === 'closure' ? `${type} ${raw.strings[raw.nodes[i + iName]!]}` : type;
    const s = out.get(kind) ?? { count: 0, bytes: 0 };
    s.count++;
    s.bytes += raw.nodes[i + iSize]!;
    out.set(kind, s);
  }
  return out;
}

export const totalBytes = (s: HeapSummary): number => [...s.values()].reduce((a, v) => a + v.bytes, 0);

/** The kinds whose bytes grew most from `before` to `after`, largest first. */
export function heapGrowth(before: HeapSummary, after: HeapSummary, top = 10) {
  const kinds = new Set([...before.keys(), ...after.keys()]);
  return [...kinds]
    .map((kind) => {
      const b = before.get(kind) ?? { count: 0, bytes: 0 };
      const a = after.get(kind) ?? { count: 0, bytes: 0 };
      return { kind, count: a.count - b.count, bytes: a.bytes - b.bytes, after: a };
    })
    .sort((x, y) => y.bytes - x.bytes)
    .slice(0, top);
}
