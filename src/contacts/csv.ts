import { CONTACT_COLUMNS, type FieldKind } from '../domain/contact.js';

/** Where a CSV column goes: a contact field (by its API name), or one custom field. */
export type ColumnTarget = { field: string; kind: FieldKind } | { custom: string };

const FIELDS = new Map(CONTACT_COLUMNS.filter((c) => c.kind !== 'json').map((c) => [c.name, c.kind]));
const CUSTOM_PREFIX = 'customFields.';

/**
 * Maps a CSV header to targets: column names are the API's field names (`firstName`, `tags`, …),
 * and `customFields.<name>` fills one custom field. Returns the first unknown column instead, so
 * that a file with a misspelt header is refused whole rather than row by row.
 */
export function csvColumns(header: readonly string[]): { targets: ColumnTarget[] } | { unknown: string } {
  const targets: ColumnTarget[] = [];
  for (const raw of header) {
    const name = raw.trim();
    const kind = FIELDS.get(name as never);
    if (kind !== undefined) targets.push({ field: name, kind });
    else if (name.startsWith(CUSTOM_PREFIX) && name.length > CUSTOM_PREFIX.length) {
      targets.push({ custom: name.slice(CUSTOM_PREFIX.length) });
    } else return { unknown: name };
  }
  return { targets };
}

const TRUE = new Set(['true', 'yes', '1']);
const FALSE = new Set(['false', 'no', '0']);

/**
 * One CSV record as an import row. Cells are text, so each is read as its field's type; a cell
 * that does not read as that type is passed on as text, for the row's validation to reject with
 * the field named. An empty cell leaves the field out (an update keeps the contact's value). Tags
 * are separated by `;` or `|`.
 */
export function csvRow(targets: readonly ColumnTarget[], cells: readonly string[]): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  const custom: Record<string, unknown> = {};
  targets.forEach((t, i) => {
    const cell = (cells[i] ?? '').trim();
    if (cell === '') return;
    if ('custom' in t) {
      custom[t.custom] = cell;
      return;
    }
    switch (t.kind) {
      case 'integer':
        row[t.field] = /^-?\d{1,15}$/.test(cell) ? Number(cell) : cell;
        break;
      case 'boolean': {
        const v = cell.toLowerCase();
        row[t.field] = TRUE.has(v) ? true : FALSE.has(v) ? false : cell;
        break;
      }
      case 'tags':
        row[t.field] = cell
          .split(/[;|]/)
          .map((s) => s.trim())
          .filter((s) => s !== '');
        break;
      default:
        row[t.field] = cell;
    }
  });
  if (Object.keys(custom).length > 0) row.customFields = custom;
  return row;
}
