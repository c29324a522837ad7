import Type from 'typebox';
import type { CustomValue } from './contact.js';
import { CONTACT_GROUP_IDS, type ContactGroupId } from './contact-groups.js';

/**
 * The JSON Schemas of contact fields, written once with TypeBox: the API validates request bodies
 * with them, bulk import validates each row, and automation rules check the values they compare
 * against or set.
 */

/** `T | null` as one JSON Schema `type` list, so that a wrong value gets one plain error. */
export function nullable<T extends Type.TSchema & { type: string }>(schema: T) {
  return Type.Unsafe<Type.Static<T> | null>({ ...schema, type: [schema.type, 'null'] });
}

/** An object whose properties are all optional and which admits no other property. */
export function partialObject<P extends Record<string, Type.TSchema>>(props: P) {
  return Type.Object(
    Object.fromEntries(Object.entries(props).map(([k, v]) => [k, Type.Optional(v)])) as {
      [K in keyof P]: Type.TOptional<P[K]>;
    },
    { additionalProperties: false },
  );
}

/** An id kept in a bigint column (every id counted by a sequence), as far as JSON numbers are exact. */
export const Id = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });

/** The largest value of an `integer` column (sub-group ids, history sequence numbers). */
export const INT4_MAX = 2_147_483_647;

/** A sub-group's number within its location (an `integer` column). */
export const SubGroupId = Type.Integer({ minimum: 1, maximum: INT4_MAX });

export const ContactGroupIdSchema = Type.Unsafe<ContactGroupId>({ type: 'integer', enum: CONTACT_GROUP_IDS });

const Timestamp = nullable(Type.String({ format: 'date-time', maxLength: 64 }));
const ShortText = (maxLength: number) => nullable(Type.String({ maxLength }));

export const CUSTOM_FIELD_NAME = '^[A-Za-z][A-Za-z0-9_]{0,63}$';

const CustomFields = Type.Unsafe<Record<string, CustomValue>>({
  type: 'object',
  maxProperties: 100,
  propertyNames: { pattern: CUSTOM_FIELD_NAME },
  additionalProperties: { type: ['string', 'number', 'boolean', 'null'], maxLength: 2000 },
});

/** The settable contact fields; every one optional (a creation fills in the rest). */
export const contactFieldSchemas = {
  firstName: ShortText(200),
  lastName: ShortText(200),
  email: nullable(Type.String({ format: 'email', maxLength: 320 })),
  phone: ShortText(50),
  contactGroupId: ContactGroupIdSchema,
  subGroupId: nullable(SubGroupId),
  tags: Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 100 }),
  canSms: Type.Boolean(),
  canEmail: Type.Boolean(),
  canCall: Type.Boolean(),
  lastContactedAt: Timestamp,
  lastSmsInAt: Timestamp,
  lastCallAt: Timestamp,
  assignedStaffId: nullable(Id),
  membershipType: ShortText(100),
  trialEndsAt: Timestamp,
  externalId: nullable(Type.String({ minLength: 1, maxLength: 200 })),
  customFields: CustomFields,
};

export const CreateContactBody = partialObject(contactFieldSchemas);
export type CreateContactBody = Type.Static<typeof CreateContactBody>;

export const PatchContactBody = partialObject({ ...contactFieldSchemas, isActive: Type.Boolean() });
export type PatchContactBody = Type.Static<typeof PatchContactBody>;
