import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The portal is built into dist/portal, beside the service's own build, and served by it at /portal
// (src/api/portal.ts). Every asset is a file of that folder: nothing is fetched from elsewhere.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/portal/',
  publicDir: false,
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/portal', import.meta.url)),
    emptyOutDir: true,
    // the polyfill would be an inline script, which the portal's CSP (script-src 'self') refuses
    modulePreload: { polyfill: false },
    reportCompressedSize: true,
    chunkSizeWarningLimit: 200,
  },
  logLevel: 'warn',
});
