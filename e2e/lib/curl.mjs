// curl, the plainest HTTP client there is, run as a child process: one
// request and its whole answer, or a stream (-N) read as it comes.
import { spawn } from 'node:child_process';

/**
 * Runs `curl -sS -i args...` with input on its stdin (for --data-binary @-)
 * and resolves to the final answer's status, headers (lower-case names),
 * body text and parsed JSON (undefined when the body is not JSON). An
 * interim 100 Continue is skipped.
 */
export function curl(args, { input } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn('curl', ['-sS', '-i', '--max-time', '10', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`curl ${args.join(' ')} exited ${code}: ${err.trim()}`));
        return;
      }
      let head;
      let body = out;
      do {
        const split = body.indexOf('\r\n\r\n');
        head = body.slice(0, split).split('\r\n');
        body = body.slice(split + 4);
      } while (/^HTTP\/[\d.]+ 1\d\d /.test(head[0]));
      const headers = Object.fromEntries(head.slice(1).map((l) => {
        const i = l.indexOf(':');
        return [l.slice(0, i).toLowerCase(), l.slice(i + 1).trim()];
      }));
      let json;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      resolve({ status: Number(head[0].split(' ')[1]), headers, body, json });
    });
    child.stdin.end(input);
  });
}

/**
 * Runs `curl -sS -N -D - url` with headers: out.text grows with the
 * response head and then the body as they arrive, until out.stop() or 30
 * seconds.
 */
export function curlStream(url, headers = {}) {
  const args = ['-sS', '-N', '--max-time', '30'];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  args.push('-D', '-', String(url));
  const child = spawn('curl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { text: '', err: '' };
  child.stdout.setEncoding('utf8').on('data', (d) => { out.text += d; });
  child.stderr.setEncoding('utf8').on('data', (d) => { out.err += d; });
  child.on('error', (err) => { out.err += String(err); });
  out.exited = new Promise((resolve) => child.on('close', resolve));
  out.stop = () => {
    child.kill('SIGTERM');
    return out.exited;
  };
  /** The body: what came after the head. */
  out.body = () => {
    const i = out.text.indexOf('\r\n\r\n');
    return i < 0 ? '' : out.text.slice(i + 4);
  };
  return out;
}
