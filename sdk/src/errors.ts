/** What went wrong with a delivery, as a stable code partners can branch on. */
export type WebhookErrorCode =
  | 'missing_signature'
  | 'malformed_signature'
  | 'timestamp_out_of_tolerance'
  | 'signature_mismatch'
  | 'invalid_body'
  | 'invalid_event'
  | 'unknown_event_type'
  | 'body_too_large'
  | 'body_already_parsed'
  | 'invalid_secret'
  | 'not_one_window';

/**
 * The base of every error this SDK throws on purpose. `status` is the HTTP status a receiver should
 * answer with: a 4xx makes FPT retry the delivery later (a bad signature may be a secret not yet
 * rotated in), and a 5xx marks a problem on the receiver's side.
 */
export class FptWebhookError extends Error {
  constructor(
    readonly code: WebhookErrorCode,
    message: string,
    readonly status: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The signature headers are missing, malformed, stale, or do not match the body and the secret. */
export class WebhookVerificationError extends FptWebhookError {
  constructor(
    code: 'missing_signature' | 'malformed_signature' | 'timestamp_out_of_tolerance' | 'signature_mismatch',
    message: string,
  ) {
    super(code, message, code === 'missing_signature' || code === 'malformed_signature' ? 400 : 401);
  }
}

/** The body is not a valid event: not UTF-8 JSON, of an unknown type, or not matching its schema. */
export class WebhookPayloadError extends FptWebhookError {
  constructor(
    code: 'invalid_body' | 'invalid_event' | 'unknown_event_type' | 'body_too_large',
    message: string,
    /** one line per problem, each starting with the JSON pointer of the value concerned */
    readonly problems: readonly string[] = [],
  ) {
    super(code, message, code === 'body_too_large' ? 413 : 400);
  }
}

/** The receiver is set up wrongly (a malformed secret, a body parsed before the SDK saw it). */
export class WebhookConfigError extends FptWebhookError {
  constructor(code: 'invalid_secret' | 'body_already_parsed', message: string) {
    super(code, message, 500);
  }
}

/** The events given to {@link foldWindow} are not the events of one window. */
export class WebhookFoldError extends FptWebhookError {
  constructor(message: string) {
    super('not_one_window', message, 500);
  }
}
