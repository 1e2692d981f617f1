import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { CatalogService } from '../catalog/catalog.service.js';
import { toModelDto } from '../catalog/models.dto.js';

/** The dashboard's pages: each answers the same HTML, and the client renders the page its path names. */
export const DASHBOARD_PAGES = [
  '/',
  '/login',
  '/signup',
  '/keys',
  '/usage',
  '/billing',
  '/models',
  '/status',
  '/account',
  '/verify',
  '/forgot-password',
  '/reset-password',
];

/** Where the dashboard answers: its pages, its assets, its catalog (web routes, not the API: not in openapi.json). */
export function isDashboardRoute(url: string): boolean {
  return DASHBOARD_PAGES.includes(url) || url.startsWith('/assets/') || url === '/dashboard/models.json';
}

/**
 * No inline script or style, nothing from another origin: the bundle's own files and calls to this gateway only.
 * (Styles set from script through the CSSOM, as the chart does, are not inline styles to CSP.)
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const HTML_HEADERS = {
  'content-security-policy': DASHBOARD_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-cache',
};

/** The repository (or installed package) root: the nearest folder above this file that holds package.json. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error('dashboard: no package.json above ' + fileURLToPath(import.meta.url));
    }
    dir = parent;
  }
  return dir;
}

/** Where `npm run build` (esbuild, web/build.mjs) writes the dashboard. */
export function dashboardDir(): string {
  return join(packageRoot(), 'dist', 'web');
}

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>Conflux Router</title>
<p>The dashboard is not built: run <code>npm run build</code> (or <code>npm start</code>, which builds it).
The API is at <a href="/v1/models">/v1</a>, its reference at <a href="/docs">/docs</a>.</p>`;

/**
 * Serves the web dashboard at `/`: its pages (one HTML file with a strict CSP), its hashed assets under `/assets/`,
 * and the public model catalog it shows logged out (`/dashboard/models.json`: the same DTOs as `GET /v1/models`,
 * which needs an API key). Everything else the dashboard shows comes from the public API, with the visitor's
 * session token.
 */
export async function serveDashboard(app: NestFastifyApplication): Promise<void> {
  const dir = dashboardDir();
  const indexFile = join(dir, 'index.html');
  const built = existsSync(indexFile);
  const html = built ? readFileSync(indexFile, 'utf8') : NOT_BUILT;
  const fastify = app.getHttpAdapter().getInstance();
  for (const path of DASHBOARD_PAGES) {
    fastify.get(path, async (_request, reply) => {
      void reply
        .status(built ? 200 : 503)
        .headers(HTML_HEADERS)
        .type('text/html; charset=utf-8');
      return html;
    });
  }
  const catalog = app.get(CatalogService);
  fastify.get('/dashboard/models.json', async (_request, reply) => {
    void reply.header('cache-control', 'public, max-age=60');
    const now = new Date();
    return { object: 'list', data: catalog.list().map((model) => toModelDto(model, now)) };
  });
  if (built) {
    await app.register(fastifyStatic, {
      root: join(dir, 'assets'),
      prefix: '/assets/',
      decorateReply: false,
      index: false,
      // File names carry a hash of their content (esbuild), so a browser may keep them.
      immutable: true,
      maxAge: '365d',
    });
  }
}
