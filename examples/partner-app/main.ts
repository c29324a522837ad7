/**
 * Runs the example partner app:
 *
 *   FPT_API_URL=http://localhost:8080 FPT_API_KEY=fpt_partner_… PORT=3000 \
 *   FPT_PUBLIC_URL=http://localhost:3000/fpt-hooks npx tsx examples/partner-app/main.ts
 *
 * With FPT_PUBLIC_URL it subscribes itself (the service needs FPT_ALLOW_PRIVATE_URLS=1 for a local URL);
 * with FPT_WEBHOOK_SECRET instead it uses an existing subscription. GET /report shows the funnel.
 */
import { createServer } from 'node:http';
import { PartnerApp } from './partner-app.js';

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`set ${name}`);
  return v;
}

const apiUrl = env('FPT_API_URL');
const apiKey = env('FPT_API_KEY');
const port = Number(process.env.PORT ?? 3000);
const secret =
  process.env.FPT_WEBHOOK_SECRET ??
  (await PartnerApp.subscribe(apiUrl, apiKey, env('FPT_PUBLIC_URL'))).secret;
const app = new PartnerApp({ apiUrl, apiKey, secret });
const hooks = app.handler();

createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/fpt-hooks') return void hooks(req, res);
  if (req.method === 'GET' && req.url === '/report') {
    return void res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify(app.report(), null, 2));
  }
  res.writeHead(404).end();
}).listen(port, () => console.log(`partner app on http://localhost:${port} (POST /fpt-hooks, GET /report)`));
