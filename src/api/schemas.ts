import Type from 'typebox';
import { ContactGroupIdSchema, Id, INT4_MAX, nullable, SubGroupId } from '../domain/contact-schema.js';

// the contact schemas live in the domain (import rows and automation rules check values with them)
export {
  ContactGroupIdSchema,
  CreateContactBody,
  Id,
  PatchContactBody,
  nullable,
  partialObject,
} from '../domain/contact-schema.js';

export const TransferBody = Type.Object({ locationId: Id }, { additionalProperties: false });

const Name = Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' });

export const NameBody = Type.Object({ name: Name }, { additionalProperties: false });

export const CreateLocationBody = Type.Object(
  {
    name: Name,
    organizationId: Type.Optional(nullable(Id)),
    defaultContactGroupId: Type.Optional(ContactGroupIdSchema),
  },
  { additionalProperties: false },
);

/** A partner app's id: `app_` and 32 hex digits. */
export const AppIdSchema = Type.String({ pattern: '^app_[0-9a-f]{32}$' });

export const CreateApiKeyBody = Type.Object(
  {
    role: Type.Union([Type.Literal('staff'), Type.Literal('partner')]),
    organizationId: Type.Optional(Id),
    locationId: Type.Optional(Id),
    description: Type.Optional(Type.String({ maxLength: 500 })),
    /** the partner app the key belongs to; without it a partner key gets an app of its own */
    appId: Type.Optional(AppIdSchema),
  },
  { additionalProperties: false },
);

export const ApiKeyListQuery = Type.Object(
  { appId: Type.Optional(AppIdSchema) },
  { additionalProperties: false },
);

export const LocationParams = Type.Object({ locationId: Id });
export const ContactParams = Type.Object({ contactId: Id });
export const SubGroupParams = Type.Object({ locationId: Id, subGroupId: SubGroupId });
export const IdParams = Type.Object({ id: Id });

/** A contact's history, paged by its sequence numbers (an `integer` column). */
export const PageQuery = Type.Object(
  {
    after: Type.Optional(Type.Integer({ minimum: 0, maximum: INT4_MAX })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);

export const ContactListQuery = Type.Object(
  {
    after: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
    isActive: Type.Optional(Type.Boolean()),
    // the one contact with this externalId at the location (unique there), active or not
    externalId: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    // contacts whose name, email or phone contains this, ignoring case
    search: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
);
