import fastJson from 'fast-json-stringify';
import type { FastifySerializerCompiler } from 'fastify/types/schema.js';

/**
 * Serializes answers with their contract's schemas (fast-json-stringify, as Fastify does by
 * default), compiling each distinct schema once per process and only when first used. Fastify
 * compiles a serializer per route and status at start: ~50 routes of up to ten statuses, most of
 * them the same error body. Building the API and making it ready takes a median of 24–35 ms that
 * way and 6–11 ms this way on a quiet machine (bench/api-build.ts; BENCHMARKS.md, "API start-up"),
 * which every test that builds an API pays.
 */
const compiled = new Map<string, (data: unknown) => string>();

export const serializerCompiler: FastifySerializerCompiler<unknown> = ({ schema }) => {
  const key = JSON.stringify(schema);
  let serialize = compiled.get(key);
  if (serialize === undefined) {
    let compile: ((data: unknown) => string) | undefined;
    serialize = (data) => (compile ??= fastJson(schema as Parameters<typeof fastJson>[0]))(data);
    compiled.set(key, serialize);
  }
  return serialize;
};
