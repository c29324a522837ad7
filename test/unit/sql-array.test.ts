import { describe, expect, test } from 'vitest';
import { sqlArray } from '../../src/store/sql-array.js';

describe('sqlArray', () => {
  test('writes each kind of element as an array literal', () => {
    expect(sqlArray([])).toBe('{}');
    expect(sqlArray([1, -2.5, 0])).toBe('{1,-2.5,0}');
    expect(sqlArray(['a', '', null, undefined])).toBe('{"a","",NULL,NULL}');
    expect(sqlArray([true, false])).toBe('{t,f}');
    expect(sqlArray([new Date(Date.UTC(2026, 10, 30, 12, 0, 0, 5))])).toBe('{"2026-11-30T12:00:00.005Z"}');
    expect(sqlArray(['say "hi"', 'back\\slash'])).toBe('{"say \\"hi\\"","back\\\\slash"}');
  });

  test('refuses what has no literal', () => {
    expect(() => sqlArray([Number.NaN])).toThrow(RangeError);
    expect(() => sqlArray([Infinity])).toThrow(RangeError);
    expect(() => sqlArray([new Date(Number.NaN)])).toThrow(RangeError);
  });
});
