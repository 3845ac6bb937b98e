// What the benchmarks drive servers with: a line-oriented JSON-RPC client on a child's stdio, lean enough that
// its own cost stays out of the figures.
import { spawn } from 'node:child_process';

/** Spawns `command` and resolves each request on the response with its id. */
export function connect([command, ...args], { env, cwd, stderr = 'inherit' } = {}) {
  const child = spawn(command, args, { env, cwd, stdio: ['pipe', 'pipe', stderr] });
  const waiting = new Map();
  let buffer = '';
  child.stdout.on('data', (chunk) => {
    buffer += chunk;
    let nl;
    while ((nl = buffer.indexOf('\n')) !== -1) {
      const msg = JSON.parse(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
      waiting.get(msg.id)?.(msg);
      waiting.delete(msg.id);
    }
  });
  let nextId = 0;
  const request = (method, params) =>
    new Promise((resolve) => {
      const id = nextId++;
      waiting.set(id, resolve);
      child.stdin.write(JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n');
    });
  const close = () => new Promise((resolve) => { child.on('close', resolve); child.stdin.end(); });
  return { request, close, pid: child.pid };
}

export const initialize = (client) => client.request('initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' } });

/** The q-quantile of samples by nearest rank. */
export const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
