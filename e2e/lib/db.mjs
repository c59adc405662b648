// The state tree as its clients see it: REST requests to /db/{path}.json,
// tokens with db grants, and the Firebase streaming events (put, patch)
// applied to a local copy of the tree.
import { SUBSCRIBER_KEY, fetchText, herald } from './herald.mjs';

/** The admin token the state tree scenarios start their servers with. */
export const ADMIN_TOKEN = 'e2e-db-admin-token';

/** Returns the URL of path (such as /rooms/a) in hub's tree. */
export function dbURL(hub, path, query = {}) {
  const url = new URL(`${hub.origin}/db${path === '/' ? '/' : path}.json`);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  return url;
}

/**
 * Issues one request to the tree and resolves to its status, headers, raw
 * body and parsed JSON (undefined when the body is not JSON). body is sent
 * as JSON, raw as it is; auth goes as a Bearer token.
 */
export async function dbRequest(hub, path, { method = 'GET', body, raw, auth = ADMIN_TOKEN, headers = {}, query } = {}) {
  const h = { ...headers };
  if (auth) h.Authorization = `Bearer ${auth}`;
  const res = await fetchText(dbURL(hub, path, query), {
    method,
    headers: h,
    body: body === undefined ? raw : JSON.stringify(body),
  });
  let json;
  try {
    json = JSON.parse(res.body);
  } catch {
    json = undefined;
  }
  return { ...res, json };
}

/** Reads path with the admin token; a status other than 200 rejects. */
export async function dbGet(hub, path) {
  const res = await dbRequest(hub, path);
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${res.body.trim()}`);
  return res.json;
}

/** Writes with the admin token; a status other than 200 rejects. */
export async function dbWrite(hub, method, path, body) {
  const res = await dbRequest(hub, path, { method, body });
  if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status} ${res.body.trim()}`);
  return res.json;
}

/**
 * Mints a JWT with `herald token`, signed with the servers' subscriber key:
 * read and write are state tree grants (--db-read, --db-write).
 */
export function dbToken({ read = [], write = [], jti, subject, ttl = '1h' } = {}) {
  const args = ['token', '--key', SUBSCRIBER_KEY, '--ttl', ttl];
  for (const p of read) args.push('--db-read', p);
  for (const p of write) args.push('--db-write', p);
  if (jti) args.push('--jti', jti);
  if (subject) args.push('--subject', subject);
  // A token for --db-rules carries no grant, only who it is; herald token
  // wants one grant at least, so it gets a topic nobody publishes to.
  if (!read.length && !write.length) args.push('--subscribe', 'urn:e2e:none');
  return herald(args);
}

/** The events of a state stream that carry a write: put and patch. */
export function writesOf(events) {
  return events.filter((e) => e.type === 'put' || e.type === 'patch');
}

/** Parses a received put or patch into {type, path, data}. */
export function parseEvent({ type, data }) {
  const { path, data: value } = JSON.parse(data);
  return { type, path, data: value };
}

function keysOf(path) {
  return path.split('/').filter((k) => k !== '');
}

// Sets value at keys below node, as the tree does: null deletes, and an
// object left empty is deleted with it.
function setAt(node, keys, value) {
  if (keys.length === 0) return value;
  const obj = node !== null && typeof node === 'object' ? { ...node } : {};
  const child = setAt(obj[keys[0]] ?? null, keys.slice(1), value);
  if (child === null) delete obj[keys[0]];
  else obj[keys[0]] = child;
  return Object.keys(obj).length > 0 ? obj : null;
}

/**
 * Applies a received put or patch to model, the value at the watched path
 * (null: nothing), the way a Firebase client does, and returns the new
 * model.
 */
export function applyEvent(model, event) {
  const { type, path, data } = parseEvent(event);
  if (type === 'put') return setAt(model, keysOf(path), data);
  for (const [rel, value] of Object.entries(data)) {
    model = setAt(model, [...keysOf(path), ...keysOf(rel)], value);
  }
  return model;
}
