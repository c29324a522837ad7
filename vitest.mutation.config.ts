import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The unit tests that cover the modules Stryker mutates (stryker.config.mjs): no database, no
// services, so that each of the thousand-odd mutant runs takes well under a second.
export default defineConfig({
  resolve: { alias: { '@fpt/webhooks': fileURLToPath(new URL('./sdk/src/index.ts', import.meta.url)) } },
  test: {
    include: [
      'test/unit/derive.test.ts',
      'test/unit/contact.test.ts',
      'test/unit/events.test.ts',
      'test/unit/policy.test.ts',
      'test/unit/ssrf.test.ts',
      'test/unit/signing.test.ts',
      'test/unit/sender.test.ts',
      'test/unit/principal.test.ts',
      'test/unit/ownership.test.ts',
    ],
    testTimeout: 30_000,
  },
});
