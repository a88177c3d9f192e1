// The admin web page: static HTML, CSS and plain JavaScript from ./page/, read once at
// start and served as they are (no build step, nothing fetched from elsewhere). They
// carry no data and are the only thing the admin listener serves without the bearer
// token: the page asks for the token, keeps it in sessionStorage, and sends it with each
// API call and as the live feed's subprotocol.
//
// A strict Content-Security-Policy: scripts and styles only from these files, requests
// only to this origin (the API and the feed), the page not frameable.
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';

const DIR = path.join(import.meta.dirname, 'page');

const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

let cache: Map<string, Buffer> | null = null;

function load(): Map<string, Buffer> {
  cache ??= new Map(Object.values(ASSETS).map((a) => [a.file, readFileSync(path.join(DIR, a.file))]));
  return cache;
}

/** Answers GET/HEAD of the page's files; false for any other request. */
export function servePage(req: http.IncomingMessage, res: http.ServerResponse, pathname: string): boolean {
  const asset = Object.hasOwn(ASSETS, pathname) ? ASSETS[pathname] : undefined;
  if (asset === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
  const body = load().get(asset.file) as Buffer;
  res.writeHead(200, {
    'Content-Type': asset.type,
    'Content-Length': body.length,
    'Cache-Control': 'no-cache',
    'Content-Security-Policy': CSP,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'X-Frame-Options': 'DENY',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}
