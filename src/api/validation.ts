import type { FastifySchemaCompiler } from 'fastify';
import { bodyAjv, compileSchema, textAjv } from '../domain/validation.js';

export { compileValidator, validationError } from '../domain/validation.js';

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  const ajv = httpPart === 'body' ? bodyAjv : textAjv;
  return compileSchema(ajv, schema as object);
};
