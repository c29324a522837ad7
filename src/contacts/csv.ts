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

/**
 * A CSV row refused while it is read (before any validation): it is rejected on its own, with its
 * data row number, and the rest of the file applies. The keys it names (`externalId`, `email`) are
 * kept so that `deactivateMissing` leaves their contacts alone, as for any rejected row.
 */
export class RowRejection {
  constructor(
    readonly code: string,
    readonly reason: string,
    readonly field: string | undefined,
    readonly keys: { externalId?: string; email?: string },
  ) {}
}

/** The row's externalId and email cells, wherever the header put them. */
function rowKeys(targets: readonly ColumnTarget[], cells: readonly string[]): RowRejection['keys'] {
  const keys: RowRejection['keys'] = {};
  targets.forEach((t, i) => {
    const cell = (cells[i] ?? '').trim();
    if (cell === '' || !('field' in t)) return;
    if (t.field === 'externalId') keys.externalId = cell;
    if (t.field === 'email') keys.email = cell;
  });
  return keys;
}

/** A row with more or fewer cells than the header has columns: its cells cannot be placed. */
export function cellCountRejection(targets: readonly ColumnTarget[], cells: readonly string[]): RowRejection {
  return new RowRejection(
    'invalid_row',
    `this row has ${cells.length} cell${cells.length === 1 ? '' : 's'}; the header has ${targets.length} column${targets.length === 1 ? '' : 's'}`,
    undefined,
    rowKeys(targets, cells),
  );
}

const TRUE = new Set(['true', 'yes', '1']);
const FALSE = new Set(['false', 'no', '0']);

/**
 * One CSV record as an import row. Cells are text, so each is read as its field's type; a cell
 * that does not read as that type is passed on as text, for the row's validation to reject with
 * the field named. An empty cell leaves the field out (an update keeps the contact's value).
 * Booleans are true/yes/1 or false/no/0 (any case); custom fields are always strings. Tags are
 * separated by `;` (or `|`); a comma in a tags cell rejects the row, since "vip, hiit" read as one
 * tag would be stored silently wrong and read as two would guess.
 */
export function csvRow(
  targets: readonly ColumnTarget[],
  cells: readonly string[],
): Record<string, unknown> | RowRejection {
  const row: Record<string, unknown> = {};
  const custom: Record<string, unknown> = {};
  const tagsWithComma = targets.findIndex(
    (t, i) => 'field' in t && t.kind === 'tags' && (cells[i] ?? '').includes(','),
  );
  if (tagsWithComma >= 0) {
    const cell = cells[tagsWithComma]!.trim();
    const field = (targets[tagsWithComma] as { field: string }).field;
    return new RowRejection(
      'invalid_value',
      `tags are separated by ";" in a CSV cell, not by "," (write ${cell
        .split(/\s*,\s*/)
        .filter(Boolean)
        .join(';')})`,
      field,
      rowKeys(targets, cells),
    );
  }
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
