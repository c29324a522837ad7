// Mutation testing (`npm run test:mutation`; slow, not in CI): the modules whose bugs lose or leak
// data, against the unit tests that cover them. docs/testing.md summarises the last report and
// explains each mutant that survives.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts', related: false },
  mutate: [
    'src/events/derive.ts', // the derivation: which events a window produces
    'src/domain/contact.ts', // diffContact and the tracked fields the derivation compares
    'src/domain/events.ts', // the published schemas events are checked against
    'src/delivery/policy.ts', // retry, give up, disable
    'src/delivery/ssrf.ts', // which endpoints may be called
    'src/delivery/signing.ts', // the signatures partners verify
    'src/delivery/sender.ts', // the HTTP attempt, and the URL check at delivery time
    'src/domain/principal.ts', // who may see which location and organization
    'src/domain/ownership.ts', // which app's subscriptions a key sees, and what it may do to them
  ],
  // the machine is shared: two test processes at most
  concurrency: 2,
  // Static mutants (values computed when a module loads: the SSRF range tables, the regexes, the
  // schemas) are reported as survived by the vitest runner even when a test kills them: it activates
  // them after the module was imported (stryker-mutator/stryker-js#6144, #6209; 9.6.1 and 10.x).
  // They are left out rather than counted wrongly; docs/testing.md says how they are covered.
  ignoreStatic: true,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
  // a mutant that makes a test loop (a retry delay of 0, say) is reported as timed out, not waited on
  timeoutMS: 10_000,
  thresholds: { high: 90, low: 80, break: null },
};
