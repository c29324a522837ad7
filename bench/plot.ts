/**
 * The comparison plot as a self-contained SVG, written by hand (two bar charts need no library):
 * throughput on a linear axis, p50 and p99 latency on a logarithmic one (the systems differ by
 * orders of magnitude there).
 */

export interface PlotRow {
  label: string;
  /** delivered events/s; undefined when the system had no throughput run */
  throughput: number | undefined;
  p50: number | undefined;
  p99: number | undefined;
  /** the reference bar (the raw HTTP ceiling) is drawn apart */
  reference?: boolean;
}

const W = 1040;
const ROW_H = 34;
const LABEL_W = 330;
const PANEL_W = 300;
const GAP = 60;
const TOP = 70;
const COLORS = { bar: '#2f6fb0', reference: '#9aa5b1', p50: '#3a9e6e', p99: '#d9822b' };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

function niceMax(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export function comparisonSvg(rows: readonly PlotRow[], title: string, subtitle: string): string {
  const h = TOP + rows.length * ROW_H + 60;
  const x1 = LABEL_W;
  const x2 = LABEL_W + PANEL_W + GAP;
  const out: string[] = [];
  const text = (x: number, y: number, s: string, attrs = '') =>
    out.push(`<text x="${x}" y="${y}" ${attrs}>${esc(s)}</text>`);

  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${h}" fill="#ffffff"/>`,
  );
  text(16, 24, title, 'font-size="16" font-weight="bold"');
  text(16, 44, subtitle, 'fill="#555"');
  text(x1, TOP - 8, 'delivered events/s (backlog run)', 'font-weight="bold"');
  text(x2, TOP - 8, 'latency, ms (log scale): p50 and p99', 'font-weight="bold"');

  // throughput panel: linear
  const tMax = niceMax(Math.max(1, ...rows.map((r) => r.throughput ?? 0)));
  const tx = (v: number) => x1 + (v / tMax) * PANEL_W;
  // latency panel: log10 from 1 ms
  const lMax = niceMax(Math.max(10, ...rows.flatMap((r) => [r.p50 ?? 0, r.p99 ?? 0])));
  const decades = Math.ceil(Math.log10(lMax));
  const lx = (v: number) => x2 + (Math.log10(Math.max(1, v)) / decades) * PANEL_W;
  const bottom = TOP + rows.length * ROW_H;

  for (let i = 0; i <= 4; i++) {
    const v = (tMax * i) / 4;
    out.push(`<line x1="${tx(v)}" y1="${TOP}" x2="${tx(v)}" y2="${bottom}" stroke="#e3e3e3"/>`);
    text(tx(v), bottom + 16, fmt(v), 'text-anchor="middle" fill="#555"');
  }
  for (let d = 0; d <= decades; d++) {
    const v = 10 ** d;
    out.push(`<line x1="${lx(v)}" y1="${TOP}" x2="${lx(v)}" y2="${bottom}" stroke="#e3e3e3"/>`);
    text(lx(v), bottom + 16, fmt(v), 'text-anchor="middle" fill="#555"');
  }

  rows.forEach((r, i) => {
    const y = TOP + i * ROW_H;
    text(x1 - 10, y + ROW_H / 2 + 4, r.label, 'text-anchor="end"');
    if (r.throughput !== undefined) {
      const fill = r.reference ? COLORS.reference : COLORS.bar;
      out.push(
        `<rect x="${x1}" y="${y + 6}" width="${Math.max(1, tx(r.throughput) - x1)}" height="${ROW_H - 12}" fill="${fill}"/>`,
      );
      text(tx(r.throughput) + 4, y + ROW_H / 2 + 4, fmt(r.throughput), 'fill="#222"');
    }
    if (r.p50 !== undefined && r.p99 !== undefined) {
      const hh = (ROW_H - 12) / 2;
      out.push(
        `<rect x="${x2}" y="${y + 6}" width="${Math.max(1, lx(r.p50) - x2)}" height="${hh}" fill="${COLORS.p50}"/>`,
        `<rect x="${x2}" y="${y + 6 + hh}" width="${Math.max(1, lx(r.p99) - x2)}" height="${hh}" fill="${COLORS.p99}"/>`,
      );
      text(lx(r.p99) + 4, y + ROW_H / 2 + 4, `${fmt(r.p50)} / ${fmt(r.p99)}`, 'fill="#222"');
    } else {
      text(x2 + 4, y + ROW_H / 2 + 4, 'no latency run', 'fill="#999"');
    }
  });

  const ly = bottom + 40;
  out.push(`<rect x="${x2}" y="${ly - 10}" width="12" height="12" fill="${COLORS.p50}"/>`);
  text(x2 + 18, ly, 'p50');
  out.push(`<rect x="${x2 + 60}" y="${ly - 10}" width="12" height="12" fill="${COLORS.p99}"/>`);
  text(x2 + 78, ly, 'p99');
  out.push('</svg>');
  return out.join('\n') + '\n';
}
