/**
 * An error the API answers with `{error: {code, message, field?}}` and its 4xx status. Anything
 * else that escapes a request is a fault of ours: logged, and answered 500 without details.
 */
export class AppError extends Error {
  override name = 'AppError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export const notFound = (what: string): AppError => new AppError(404, 'not_found', `${what} not found`);

export const forbidden = (message: string): AppError => new AppError(403, 'forbidden', message);

export const invalid = (field: string, message: string, code = 'invalid_value'): AppError =>
  new AppError(400, code, message, field);

export const unprocessable = (field: string, message: string, code = 'invalid_reference'): AppError =>
  new AppError(422, code, message, field);

export const conflict = (message: string, field?: string): AppError =>
  new AppError(409, 'conflict', message, field);
