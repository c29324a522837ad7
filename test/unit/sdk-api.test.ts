import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { GENERATED_API_PATH, renderSdkApi } from '../../scripts/generate-sdk-api.js';

describe("the SDK's generated API types", () => {
  test('are current: regenerate with `npm run generate:sdk-api` after changing a route or its contract', async () => {
    expect(readFileSync(GENERATED_API_PATH, 'utf8')).toBe(await renderSdkApi());
  }, 60_000);
});
