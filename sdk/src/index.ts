export {
  API_VERSION,
  CONTACT_GROUPS,
  EVENT_EXAMPLES,
  EVENT_SCHEMAS,
  EVENT_TYPES,
  isContactEvent,
  isEventType,
  parseEvent,
  toContactEvent,
  type ContactCreatedEvent,
  type ContactDeletedEvent,
  type ContactEvent,
  type ContactGroupId,
  type ContactGroupName,
  type ContactStatusChangedEvent,
  type ContactSubGroupChangedEvent,
  type ContactUpdatedEvent,
  type EventData,
  type EventOf,
  type EventType,
} from './events.js';
export { CONTACT_GROUP_IDS, ContactGroup, contactGroupName, isContactGroupId } from './contact-groups.js';
export {
  FptWebhookError,
  WebhookConfigError,
  WebhookFoldError,
  WebhookPayloadError,
  WebhookVerificationError,
  type WebhookErrorCode,
} from './errors.js';
export {
  DEFAULT_TOLERANCE_SEC,
  verifySignature,
  type HeaderBag,
  type RawBody,
  type SignatureScheme,
  type Verification,
  type VerifyOptions,
} from './verify.js';
export { MemoryDedupeStore, type DedupeStore, type MemoryDedupeStoreOptions } from './dedupe.js';
export { foldWindow, type ContactChange } from './fold.js';
export {
  DEFAULT_DEDUPE_TTL_MS,
  Webhooks,
  type AnyHandler,
  type DeliveryContext,
  type Handler,
  type HandleResult,
  type VerifiedDelivery,
  type WebhooksOptions,
} from './webhooks.js';
export {
  createExpressHandler,
  createFetchHandler,
  createNodeHandler,
  handleDelivery,
  readRawBody,
  type AdapterOptions,
  type ExpressLikeRequest,
  type ExpressLikeResponse,
  type PlainResponse,
} from './adapters.js';
export {
  createFptClient,
  type FptApiError,
  type FptApiPaths,
  type FptClient,
  type FptClientOptions,
} from './client.js';
