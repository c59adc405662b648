// Runs the real herald binary: `herald serve` as a child process on a free
// loopback port with its own temporary data directory, and `herald publish`
// and `herald token` as one-shot commands. Every server started here is
// killed when the test process exits, whatever the reason.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { waitFor } from './wait.mjs';

export const E2E_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ARTIFACTS_DIR = path.join(E2E_DIR, 'artifacts');
export const HERALD_BIN = process.env.HERALD_BIN
  ? path.resolve(process.env.HERALD_BIN)
  : path.resolve(E2E_DIR, '..', 'bin', 'herald');

// HS256 wants a key at least as long as its 256-bit hash.
export const PUBLISHER_KEY = 'e2e-publisher-key-0123456789abcdef0123456789';
export const SUBSCRIBER_KEY = 'e2e-subscriber-key-0123456789abcdef012345678';

if (!fs.existsSync(HERALD_BIN)) {
  throw new Error(`herald binary not found at ${HERALD_BIN}: run \`make build\` or set HERALD_BIN`);
}

const running = new Set();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => process.exit(128 + os.constants.signals[signal]));
}

// Herald reads HERALD_* configuration from its environment; a developer's
// own settings must not leak into the servers under test.
function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('HERALD_')) env[k] = v;
  }
  return { ...env, ...extra };
}

/**
 * Starts `herald args...` with its output piped, for a client command
 * (`herald subscribe`); it is killed when the test process exits.
 */
export function spawnHerald(args) {
  const child = spawn(HERALD_BIN, args, { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.on('exit', () => running.delete(child));
  return child;
}

/** Returns a loopback TCP port that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Runs `herald args...` to completion and returns its trimmed stdout.
 * A non-zero exit rejects with the command's stderr in the message.
 */
export function herald(args, { env } = {}) {
  return new Promise((resolve, reject) => {
    execFile(HERALD_BIN, args, { env: cleanEnv(env), timeout: 15_000 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`herald ${args[0]} failed (${err.code ?? err.signal}): ${stderr.trim() || err.message}`));
        return;
      }
      resolve(stdout.trim());
    });
  });
}

/** Mints a JWT with `herald token`. */
export function mintToken({ key, publish = [], subscribe = [], ttl = '1h' }) {
  const args = ['token', '--key', key, '--ttl', ttl];
  for (const t of publish) args.push('--publish', t);
  for (const t of subscribe) args.push('--subscribe', t);
  return herald(args);
}

/**
 * Issues one HTTP(S) request and resolves once the response headers are in,
 * with the live response to read from or destroy. insecure skips
 * certificate checks (self-signed test servers).
 */
export function openResponse(url, { method = 'GET', headers = {}, body, insecure = false, timeout = 5000 } = {}) {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(u, { method, headers, rejectUnauthorized: !insecure, timeout }, resolve);
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no response within ${timeout} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Issues one request and reads the whole body as UTF-8. */
export async function fetchText(url, opts) {
  const res = await openResponse(url, opts);
  res.setEncoding('utf8');
  let body = '';
  for await (const chunk of res) body += chunk;
  return { status: res.statusCode, headers: res.headers, body };
}

function tail(file, lines = 40) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * One `herald serve` process. The port and data file survive a restart, so
 * a killed server comes back at the same address with the same journal.
 */
export class Herald {
  /**
   * @param {object} o
   * @param {string} o.label names the log file under artifacts/logs
   * @param {string[]} [o.args] extra `herald serve` flags
   * @param {boolean} [o.memory] use the in-memory journal instead of a bolt file
   * @param {boolean} [o.tls] the server speaks HTTPS (flags go in args)
   */
  static async start(o) {
    const h = new Herald(o, await freePort());
    try {
      await h.start();
    } catch (err) {
      await h.close();
      throw err;
    }
    return h;
  }

  constructor({ label, args = [], memory = false, tls = false }, port) {
    this.label = label;
    this.port = port;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-e2e-'));
    this.dataFile = path.join(this.dir, 'herald.db');
    this.origin = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    this.hubURL = `${this.origin}/.well-known/mercure`;
    this.tls = tls;
    this.args = [
      'serve',
      '--addr', `127.0.0.1:${port}`,
      ...(memory ? ['--journal', 'memory'] : ['--data', this.dataFile]),
      '--publisher-key', PUBLISHER_KEY,
      '--subscriber-key', SUBSCRIBER_KEY,
      ...args,
    ];
    fs.mkdirSync(path.join(ARTIFACTS_DIR, 'logs'), { recursive: true });
    this.logFile = path.join(ARTIFACTS_DIR, 'logs', `${label}.log`);
    fs.writeFileSync(this.logFile, '');
    this.child = null;
    this.publisherToken = null;
  }

  /** Starts the process and waits until GET /readyz answers 200. */
  async start() {
    if (this.child) throw new Error(`${this.label}: already running`);
    const log = fs.openSync(this.logFile, 'a');
    fs.writeSync(log, `--- herald ${this.args.join(' ')}\n`);
    const child = spawn(HERALD_BIN, this.args, { env: cleanEnv(), stdio: ['ignore', log, log] });
    fs.closeSync(log);
    this.child = child;
    running.add(child);
    child.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        running.delete(child);
        resolve({ code, signal });
      });
    });
    const stopPolling = new AbortController();
    const died = child.exited.then(({ code, signal }) => {
      throw new Error(`herald exited (${code ?? signal}) before it was ready`);
    });
    const ready = waitFor(async () => {
      const res = await fetchText(`${this.origin}/readyz`, { insecure: this.tls, timeout: 1000 });
      return res.status === 200;
    }, { timeout: 15_000, what: `${this.label} GET /readyz`, signal: stopPolling.signal });
    try {
      await Promise.race([ready, died]);
    } catch (err) {
      stopPolling.abort();
      await this.kill();
      throw new Error(`${err.message}; log ${this.logFile}:\n${tail(this.logFile)}`, { cause: err });
    } finally {
      ready.catch(() => {});
      died.catch(() => {});
    }
    if (!this.publisherToken) {
      this.publisherToken = await mintToken({ key: PUBLISHER_KEY, publish: ['*'] });
    }
  }

  /** Sends signal and waits for the process to exit. */
  async kill(signal = 'SIGKILL') {
    const child = this.child;
    if (!child) return;
    this.child = null;
    child.kill(signal);
    await child.exited;
  }

  /** Sends signal (SIGHUP: reload the rules) to the running process. */
  signal(signal) {
    if (!this.child) throw new Error(`${this.label}: not running`);
    this.child.kill(signal);
  }

  /** Asks the server to drain (SIGTERM), then kills it if it takes too long. */
  async stop() {
    const child = this.child;
    if (!child) return;
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await this.kill('SIGTERM');
    clearTimeout(timer);
  }

  /** Stops the server and removes its data directory. */
  async close() {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** Mints a subscriber token for topics, signed with the server's subscriber key. */
  subscriberToken(topics = ['*']) {
    return mintToken({ key: SUBSCRIBER_KEY, subscribe: topics });
  }

  /**
   * Publishes with one HTTP POST (no process to start: for many events in
   * a row) and returns the event ID.
   */
  async post({ topics, data, type, id, priv = false }) {
    const body = new URLSearchParams();
    for (const t of topics) body.append('topic', t);
    body.set('data', data);
    if (type) body.set('type', type);
    if (id) body.set('id', id);
    if (priv) body.set('private', 'on');
    const res = await fetchText(this.hubURL, {
      method: 'POST',
      headers: { Authorization: `Bearer ${this.publisherToken}`, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: body.toString(),
      insecure: this.tls,
    });
    if (res.status !== 200) throw new Error(`POST ${this.hubURL}: ${res.status} ${res.body.trim()}`);
    return res.body.trim();
  }

  /**
   * Publishes with `herald publish` and returns the event ID it prints.
   * env is extra environment for the command (e.g. SSL_CERT_FILE).
   */
  publish({ topics, data, type, id, retry, private: priv = false, env }) {
    const args = ['publish', '--hub', this.hubURL, '--token', this.publisherToken];
    for (const t of topics) args.push('--topic', t);
    if (type) args.push('--type', type);
    if (id) args.push('--id', id);
    if (retry) args.push('--retry', retry);
    if (priv) args.push('--private');
    // Data is the last argument; "--" keeps data that starts with "-"
    // from being read as a flag.
    args.push('--', data);
    return herald(args, { env });
  }
}
