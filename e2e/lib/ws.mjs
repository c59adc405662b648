// A herald.v1 WebSocket client on npm `ws`, recording every message, for
// scenarios that speak the protocol message by message.
import WebSocket from 'ws';

import { waitFor } from './wait.mjs';

export const SUBPROTOCOL = 'herald.v1';

/**
 * Opens a socket to the hub URL (http: becomes ws:). Resolves once it is
 * open, or rejects with the HTTP status of a refused upgrade
 * (err.status). options: headers, origin, protocols (default herald.v1).
 */
export function openSocket(hubURL, { headers = {}, origin, protocols = [SUBPROTOCOL] } = {}) {
  const url = new URL(hubURL);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(url, protocols, { headers, origin, handshakeTimeout: 5000 });
  const conn = {
    ws,
    messages: [],
    closed: new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }))),
    send: (msg) => ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg)),
    /** Waits for a message that satisfies pred and returns it. */
    next: (pred, what = 'a message') => conn.until(() => conn.messages.find(pred), what),
    /** Waits until check returns something other than undefined or false, and returns it. */
    until: (check, what) => waitFor(check, { what }).catch((err) => {
      throw new Error(`${err.message}; messages so far: ${JSON.stringify(conn.messages).slice(-2000)}`, { cause: err });
    }),
    /** The events of subscription sub, in the order they came. */
    events: (sub) => conn.messages.filter((m) => m.op === 'event' && m.sub === sub),
    close: () => {
      ws.terminate();
      return conn.closed;
    },
  };
  // A socket error is followed by close, which is what scenarios check.
  ws.on('error', (err) => { conn.error = err; });
  ws.on('message', (data, isBinary) => {
    conn.messages.push(isBinary ? { binary: data } : JSON.parse(data.toString()));
  });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(conn));
    ws.once('unexpected-response', (_req, res) => {
      const err = new Error(`upgrade refused: ${res.statusCode}`);
      err.status = res.statusCode;
      res.resume();
      ws.terminate();
      reject(err);
    });
    ws.once('error', reject);
  });
}
