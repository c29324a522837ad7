import { readFileSync } from 'node:fs';
import { describe, expect, expectTypeOf, test } from 'vitest';
import { EVENT_SCHEMAS as SDK_SCHEMAS, type ContactEvent as SdkEvent } from '@fpt/webhooks';
import { GENERATED_PATH, renderSdkSchemas } from '../../scripts/generate-sdk-schemas.js';
import { EVENT_SCHEMAS, type ContactEvent } from '../../src/domain/events.js';

describe("the SDK's generated schemas", () => {
  test('are current: regenerate with `npm run generate:sdk-schemas` after changing src/domain/events.ts', async () => {
    expect(readFileSync(GENERATED_PATH, 'utf8')).toBe(await renderSdkSchemas());
  });

  test("are the server's published schemas, and give the server's event types", () => {
    expect(JSON.parse(JSON.stringify(SDK_SCHEMAS))).toEqual(JSON.parse(JSON.stringify(EVENT_SCHEMAS)));
    expectTypeOf<SdkEvent>().toEqualTypeOf<ContactEvent>();
  });
});
