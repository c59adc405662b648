// Real nats-server processes in a JetStream cluster on loopback ports, for
// Herald nodes started with --nats. The binary is built from the Go module
// pinned in e2e/nats/go.mod (e2e/nats/build.sh), never downloaded. Every
// server started here is killed when the test process exits.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ARTIFACTS_DIR, E2E_DIR, fetchText, freePort } from './herald.mjs';
import { waitFor } from './wait.mjs';

export const NATS_BIN = path.join(ARTIFACTS_DIR, 'nats-server');

const running = new Set();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Builds nats-server into e2e/artifacts unless it is there already (a
 * no-op then); the first build takes a minute or so.
 */
export function buildNatsServer() {
  return new Promise((resolve, reject) => {
    execFile(path.join(E2E_DIR, 'nats', 'build.sh'), { timeout: 300_000 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`e2e/nats/build.sh failed (${err.code ?? err.signal}): ${stderr.trim() || err.message}`));
      else resolve(NATS_BIN);
    });
  });
}

/** One nats-server of a cluster; its ports and store survive a restart. */
class NatsServer {
  constructor({ label, name, port, clusterPort, monitorPort, dir }) {
    Object.assign(this, { label, name, port, clusterPort, monitorPort, dir });
    this.url = `nats://127.0.0.1:${port}`;
    this.monitor = `http://127.0.0.1:${monitorPort}`;
    this.logFile = path.join(ARTIFACTS_DIR, 'logs', `${label}-${name}.log`);
    fs.writeFileSync(this.logFile, '');
    this.child = null;
    this.routes = [];
  }

  /** Starts the process; the cluster waits for it to be healthy. */
  start() {
    if (this.child) throw new Error(`${this.name}: already running`);
    const args = [
      '-n', this.name,
      '-a', '127.0.0.1', '-p', String(this.port),
      '-m', String(this.monitorPort),
      '-js', '-sd', this.dir,
      '-cluster', `nats://127.0.0.1:${this.clusterPort}`, '-cluster_name', 'herald',
      '-routes', this.routes.join(','),
    ];
    const log = fs.openSync(this.logFile, 'a');
    fs.writeSync(log, `--- nats-server ${args.join(' ')}\n`);
    const child = spawn(NATS_BIN, args, { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    this.child = child;
    running.add(child);
    child.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        running.delete(child);
        resolve({ code, signal });
      });
    });
  }

  /** Sends signal (SIGKILL: no goodbye to the cluster) and waits for the exit. */
  async kill(signal = 'SIGKILL') {
    const child = this.child;
    if (!child) return;
    this.child = null;
    child.kill(signal);
    await child.exited;
  }

  /** Whether /healthz says the server is up with a JetStream meta leader. */
  async healthy() {
    const res = await fetchText(`${this.monitor}/healthz`, { timeout: 1000 });
    return res.status === 200;
  }

  /** The server that leads the stream's replicas, as this server sees it. */
  async streamLeader(stream) {
    const res = await fetchText(`${this.monitor}/jsz?streams=true`, { timeout: 1000 });
    const jsz = JSON.parse(res.body);
    for (const acc of jsz.account_details ?? []) {
      for (const s of acc.stream_detail ?? []) {
        if (s.name === stream) return s.cluster?.leader;
      }
    }
    return undefined;
  }
}

/** Three (or size) nats-servers routed to each other, JetStream on. */
export class NatsCluster {
  /** Builds nats-server if needed, starts the cluster and waits until it is healthy. */
  static async start({ label, size = 3 }) {
    await buildNatsServer();
    fs.mkdirSync(path.join(ARTIFACTS_DIR, 'logs'), { recursive: true });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-e2e-nats-'));
    const servers = [];
    for (let i = 1; i <= size; i++) {
      servers.push(new NatsServer({
        label, name: `nats${i}`, dir: path.join(dir, `nats${i}`),
        port: await freePort(), clusterPort: await freePort(), monitorPort: await freePort(),
      }));
    }
    for (const s of servers) {
      s.routes = servers.filter((o) => o !== s).map((o) => `nats://127.0.0.1:${o.clusterPort}`);
    }
    const cluster = new NatsCluster(servers, dir);
    try {
      for (const s of servers) s.start();
      await cluster.waitHealthy();
    } catch (err) {
      await cluster.close();
      throw err;
    }
    return cluster;
  }

  constructor(servers, dir) {
    this.servers = servers;
    this.dir = dir;
    /** The client URLs, as --nats takes them. */
    this.urls = servers.map((s) => s.url).join(',');
  }

  /** Waits until every running server reports a JetStream meta leader. */
  waitHealthy({ timeout = 30_000 } = {}) {
    return waitFor(async () => {
      const up = this.servers.filter((s) => s.child);
      const ok = await Promise.all(up.map((s) => s.healthy()));
      return ok.every(Boolean);
    }, { timeout, interval: 100, what: 'every running nats-server healthy (GET /healthz)' });
  }

  /** Starts the servers that are not running and waits until all are healthy. */
  async startAll() {
    for (const s of this.servers) if (!s.child) s.start();
    await this.waitHealthy();
  }

  /** Kills every server. */
  async killAll(signal = 'SIGKILL') {
    await Promise.all(this.servers.map((s) => s.kill(signal)));
  }

  /** The server that leads stream's replicas, asked of a running server. */
  async streamLeader(stream = 'HERALD') {
    const name = await waitFor(async () => {
      for (const s of this.servers.filter((x) => x.child)) {
        const leader = await s.streamLeader(stream).catch(() => undefined);
        if (leader) return leader;
      }
      return undefined;
    }, { what: `the leader of stream ${stream}` });
    return this.servers.find((s) => s.name === name);
  }

  /** Stops every server and removes their stores. */
  async close() {
    await this.killAll();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
