import { describe, expect, test } from 'vitest';
import { comparisonSvg, type PlotRow } from '../../bench/plot.js';

const rows: PlotRow[] = [
  { label: 'ceiling', throughput: 20_000, p50: undefined, p99: undefined, reference: true },
  { label: 'fast <one>', throughput: 10_000, p50: 10, p99: 100 },
  { label: 'slow & late', throughput: 2_500, p50: 300, p99: 600 },
];

const widths = (svg: string, fill: string) =>
  [
    ...svg.matchAll(
      new RegExp(`<rect x="[\\d.]+" y="[\\d.]+" width="([\\d.]+)" height="[\\d.]+" fill="${fill}"/>`, 'g'),
    ),
  ].map((m) => Number(m[1]));

describe('the comparison plot', () => {
  test('throughput bars are proportional to the figures', () => {
    const svg = comparisonSvg(rows, 't', 's');
    const [ceiling] = widths(svg, '#9aa5b1');
    const [fast, slow] = widths(svg, '#2f6fb0');
    expect(fast! / ceiling!).toBeCloseTo(0.5, 5);
    expect(slow! / ceiling!).toBeCloseTo(0.125, 5);
  });

  test('latency bars are on a log scale: each decade adds the same length', () => {
    const svg = comparisonSvg(rows, 't', 's');
    const [p50fast, p50slow] = widths(svg, '#3a9e6e');
    const [p99fast] = widths(svg, '#d9822b');
    // 10 ms → one decade, 100 ms → two
    expect(p99fast! / p50fast!).toBeCloseTo(2, 5);
    expect(p50slow! / p50fast!).toBeCloseTo(Math.log10(300), 5);
  });

  test('labels are escaped and a row without a latency run says so', () => {
    const svg = comparisonSvg(rows, 'a < b', 's');
    expect(svg).toContain('fast &lt;one&gt;');
    expect(svg).toContain('slow &amp; late');
    expect(svg).toContain('a &lt; b');
    expect(svg).not.toContain('fast <one>');
    expect(svg.match(/no latency run/g)).toHaveLength(1);
  });
});
