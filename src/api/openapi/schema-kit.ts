import Type from 'typebox';
import { nullable } from '../../domain/contact-schema.js';

/** The pieces the answers' schemas (responses.ts) are made of: closed objects, times, pages. */

/** An object that admits no property it does not list. */
export const object = <P extends Record<string, Type.TSchema>>(props: P, description?: string) =>
  Type.Object(props, { additionalProperties: false, ...(description ? { description } : {}) });

export const Time = Type.String({ format: 'date-time' });
export const NullableTime = nullable(Type.String({ format: 'date-time' }));
export const Text = Type.String();
export const NullableText = nullable(Type.String());
export const Count = Type.Integer({ minimum: 0 });
export const Cursor = Type.String({
  pattern: '^[0-9]+$',
  description: 'pass as `after` (or `before`) for the next page',
});
export const enumOf = (values: readonly string[]) =>
  Type.Unsafe<string>({ type: 'string', enum: [...values] });
export const page = <T extends Type.TSchema>(item: T, nullableCursor = true) =>
  object({ data: Type.Array(item), nextCursor: nullableCursor ? nullable(Cursor) : Cursor });
export const list = <T extends Type.TSchema>(item: T) => object({ data: Type.Array(item) });

export const AppId = Type.String({ pattern: '^app_[0-9a-f]{32}$' });
export const NullableAppId = nullable(Type.String({ pattern: '^app_[0-9a-f]{32}$' }));
