import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { PassThrough, Readable } from 'node:stream';
import { parse } from 'csv-parse';
import { cellCountRejection, csvColumns, csvRow, type ColumnTarget } from '../../contacts/csv.js';
import { importContacts, type ImportSummary } from '../../contacts/import.js';
import { createContacts } from '../../contacts/write.js';
import type { Derive } from '../../contacts/single-writes.js';
import { compileValidator } from '../validation.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { applyPatch, normalizeInput, type Contact } from '../../domain/contact.js';
import { canSeeLocation, requireRole } from '../../domain/principal.js';
import { AppError, invalid, unprocessable } from '../../errors.js';
import {
  contactView,
  listContacts,
  newContactFields,
  type Operation,
  type StoredContact,
} from '../../store/contacts.js';
import { readInOneSnapshot, type Tx } from '../../store/db.js';
import { listHistory } from '../../store/history.js';
import { getLocation } from '../../store/tenants.js';
import { auditScopeOfLocation, recordAudit } from '../audit.js';
import { changeMeta, checkVisible, visibleContact, visibleLocation, type ApiDeps } from '../context.js';
import {
  ContactListQuery,
  ContactParams,
  CreateContactBody,
  LocationParams,
  PageQuery,
  PatchContactBody,
  TransferBody,
} from '../schemas.js';

function operationFor(before: Contact, after: Contact): Operation {
  if (before.isActive && !after.isActive) return 'delete';
  if (!before.isActive && after.isActive) return 'reactivate';
  return 'update';
}

export function contactRoutes(
  root: FastifyInstance,
  { db, config, singleWrites, singleReads }: ApiDeps,
): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();

  /**
   * Writes one visible contact's new state with its history row, in a commit it may share with
   * other single writes (src/contacts/single-writes.ts): a change refused anywhere writes nothing.
   */
  const mutate = (req: FastifyRequest, contactId: number, change: Derive): Promise<StoredContact> => {
    const meta = changeMeta(req);
    return singleWrites.write({
      contactId,
      meta,
      log: req.log,
      derive: (before, q) => {
        checkVisible(req, contactId, before);
        requireRole(req.principal, 'staff');
        return change(before, q);
      },
    });
  };

  app.post(
    '/api/locations/:locationId/contacts',
    { schema: { params: LocationParams, body: CreateContactBody } },
    async (req, reply) => {
      const meta = changeMeta(req);
      const contact = await db.transaction(async (tx) => {
        const loc = await visibleLocation(tx, req, req.params.locationId);
        requireRole(req.principal, 'staff');
        const [created] = await createContacts(
          tx,
          loc,
          [newContactFields(loc, normalizeInput(req.body))],
          meta,
          { coalesce: config.coalesce, log: req.log },
        );
        return created!;
      });
      return reply.status(201).send(contactView(contact));
    },
  );

  app.get(
    '/api/locations/:locationId/contacts',
    { schema: { params: LocationParams, querystring: ContactListQuery } },
    async (req) => {
      const loc = await visibleLocation(db, req, req.params.locationId);
      const limit = req.query.limit ?? 100;
      const rows = await listContacts(db, loc.id, {
        after: req.query.after ?? 0,
        limit,
        isActive: req.query.isActive,
        externalId: req.query.externalId,
        search: req.query.search,
      });
      const last = rows.at(-1);
      return {
        data: rows.map(contactView),
        nextCursor: rows.length === limit && last ? String(last.contactId) : null,
      };
    },
  );

  app.get('/api/contacts/:contactId', { schema: { params: ContactParams } }, async (req) => {
    const id = req.params.contactId;
    return contactView(checkVisible(req, id, await singleReads.get(id)));
  });

  app.patch(
    '/api/contacts/:contactId',
    { schema: { params: ContactParams, body: PatchContactBody } },
    async (req) => {
      const contact = await mutate(req, req.params.contactId, async (before) => {
        const after = applyPatch(before, req.body);
        return { after, operation: operationFor(before, after) };
      });
      return contactView(contact);
    },
  );

  app.delete('/api/contacts/:contactId', { schema: { params: ContactParams } }, async (req) => {
    const contact = await mutate(req, req.params.contactId, async (before) => ({
      after: { ...before, isActive: false },
      operation: 'delete',
    }));
    return contactView(contact);
  });

  app.post('/api/contacts/:contactId/reactivate', { schema: { params: ContactParams } }, async (req) => {
    const contact = await mutate(req, req.params.contactId, async (before) => ({
      after: { ...before, isActive: true },
      operation: 'reactivate',
    }));
    return contactView(contact);
  });

  app.post(
    '/api/contacts/:contactId/transfer',
    { schema: { params: ContactParams, body: TransferBody } },
    async (req) => {
      const contact = await mutate(req, req.params.contactId, async (before, tx) => {
        const target = await getLocation(tx, req.body.locationId);
        if (!target || !canSeeLocation(req.principal, target)) {
          throw new AppError(404, 'not_found', `location ${req.body.locationId} not found`, 'locationId');
        }
        if (target.id === before.locationId) return { after: before, operation: 'transfer' };
        if (before.organizationId === 0 || target.organizationId !== before.organizationId) {
          throw unprocessable(
            'locationId',
            `location ${target.id} is not in this contact's organization; a contact moves only between locations of one organization`,
            'cross_organization_transfer',
          );
        }
        // sub-groups belong to one location, so a transfer clears the contact's sub-group
        return {
          after: {
            ...before,
            locationId: target.id,
            organizationId: target.organizationId,
            subGroupId: null,
          },
          operation: 'transfer',
        };
      });
      return contactView(contact);
    },
  );

  app.get(
    '/api/contacts/:contactId/history',
    { schema: { params: ContactParams, querystring: PageQuery } },
    async (req) => {
      const limit = req.query.limit ?? 500;
      // the scope check and the rows in one moment: read apart, a transfer committed in between
      // showed a key of the old location the transfer away (docs/design.md, "Answers read in one snapshot")
      const data = await readInOneSnapshot(db, async (q) => {
        const contact = await visibleContact(q, req, req.params.contactId);
        return listHistory(q, contact.contactId, { afterSeq: req.query.after ?? 0, limit });
      });
      const last = data.at(-1);
      return { data, nextCursor: data.length === limit && last ? String(last.seq) : null };
    },
  );
}

const NDJSON = 'application/x-ndjson';

/** The most rows one import takes. */
const MAX_IMPORT_ROWS = 100_000;

const ImportBody = Type.Object(
  {
    // each row is checked on its own, so that one bad row rejects only itself
    contacts: Type.Array(Type.Unknown(), { maxItems: MAX_IMPORT_ROWS }),
    deactivateMissing: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
const ImportQuery = Type.Object(
  { deactivateMissing: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);

const validateImportBody = compileValidator(ImportBody);

/**
 * Reads a CSV import as it streams in: a header naming the fields, then one contact per record.
 * The byte and row limits are enforced while reading, not after.
 */
async function readCsv(body: Readable, byteLimit: number): Promise<unknown[]> {
  let bytes = 0;
  // a row with the wrong number of cells is rejected on its own (below), not the whole file
  const parser = parse({ bom: true, skip_empty_lines: true, relax_column_count: true });
  body.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > byteLimit)
      parser.destroy(
        new AppError(413, 'payload_too_large', 'the import is larger than this endpoint accepts'),
      );
  });
  body.pipe(parser);
  const rows: unknown[] = [];
  let targets: ColumnTarget[] | undefined;
  try {
    for await (const record of parser as AsyncIterable<string[]>) {
      if (targets === undefined) {
        const cols = csvColumns(record);
        if ('unknown' in cols)
          throw invalid(cols.unknown, `unknown column "${cols.unknown}" in the CSV header`, 'unknown_field');
        targets = cols.targets;
        continue;
      }
      if (rows.length >= MAX_IMPORT_ROWS)
        throw new AppError(413, 'payload_too_large', `an import takes at most ${MAX_IMPORT_ROWS} rows`);
      rows.push(
        record.length === targets.length ? csvRow(targets, record) : cellCountRejection(targets, record),
      );
    }
  } catch (err) {
    body.unpipe(parser);
    body.resume(); // drain the rest so the connection can answer
    if (err instanceof AppError) throw err;
    // rows are counted as the per-row report counts them: data rows, the header and blank lines
    // not counted (the parser's own message counts file lines, which a quoted newline shifts)
    const reason = (err as Error).message.replace(/,? (?:at|on) line \d+/g, '');
    throw new AppError(
      400,
      'invalid_csv',
      `the CSV could not be read at data row ${parser.info.records}: ${reason}`,
    );
  }
  return rows;
}

/**
 * Bulk import, as JSON `{contacts: [...], deactivateMissing?}` or as CSV (`text/csv`, streamed;
 * `?deactivateMissing=true`): creates or updates a location's contacts, per-row errors in the answer.
 */
export function importRoutes(root: FastifyInstance, { db, config }: ApiDeps): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  app.post(
    '/api/locations/:locationId/contacts/import',
    {
      schema: { params: LocationParams, querystring: ImportQuery },
      bodyLimit: config.importBodyLimit,
      config: { ownBody: true },
    },
    async (req, reply) => {
      const loc = await visibleLocation(db, req, req.params.locationId);
      requireRole(req.principal, 'staff');
      // an import is recorded as one unless the caller names another source
      const meta = {
        ...changeMeta(req),
        ...(req.headers['x-change-source'] ? {} : { source: 'import' as const }),
      };
      const writeCtx = () => ({ coalesce: config.coalesce, log: req.log });
      let rows: unknown[];
      let deactivateMissing = req.query.deactivateMissing ?? false;
      if (req.body instanceof Readable) {
        rows = await readCsv(req.body, config.importBodyLimit);
      } else {
        const err = validateImportBody(req.body);
        if (err) throw err;
        const body = req.body as Type.Static<typeof ImportBody>; // checked just above
        rows = body.contacts;
        deactivateMissing = body.deactivateMissing ?? deactivateMissing;
      }
      // recorded in the audit log in the import's transaction, with its counts
      const beforeCommit = (tx: Tx, s: ImportSummary) =>
        recordAudit(tx, req, {
          action: 'contacts.imported',
          targetType: 'location',
          targetId: loc.id,
          ...auditScopeOfLocation(loc),
          details: {
            total: s.total,
            created: s.created,
            updated: s.updated,
            unchanged: s.unchanged,
            deactivated: s.deactivated,
            rejected: s.rejected.length,
            deactivateMissing,
          },
        });
      if (!(req.headers.accept ?? '').includes(NDJSON)) {
        return importContacts(db, loc, rows, { deactivateMissing, meta, ctx: writeCtx(), beforeCommit });
      }
      // Progress as it runs: one JSON object per line, `{progress}` lines, then `{summary}` (or
      // `{error}`, since the 200 status has gone out by then). Everything that can be refused as a
      // whole (scope, role, body, CSV header) has been checked above and answered with its 4xx.
      const out = new PassThrough();
      const line = (o: object) => out.write(`${JSON.stringify(o)}\n`);
      line({ progress: { phase: 'received', done: rows.length, total: rows.length } });
      importContacts(db, loc, rows, {
        deactivateMissing,
        meta,
        ctx: writeCtx(),
        onProgress: (progress) => line({ progress }),
        beforeCommit,
      })
        .then(
          (summary) => line({ summary }),
          (err: unknown) => {
            if (err instanceof AppError) {
              line({ error: { code: err.code, message: err.message, field: err.field } });
            } else {
              req.log.error({ err }, 'import failed');
              line({ error: { code: 'internal_error', message: 'internal error; it has been logged' } });
            }
          },
        )
        .finally(() => out.end());
      return reply.type(NDJSON).send(out);
    },
  );
}
