import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newEventId, type KmEvent } from '@km/shared';

export const tempHome = (label = 'km') => mkdtempSync(join(tmpdir(), `${label}-`));

/** The pid of a process that has exited: what a km killed with -9 leaves in its spool file name. */
export function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}

export function notification(sessionId = 's1', method = 'notifications/progress'): KmEvent {
  return {
    id: newEventId(),
    v: 1,
    ts: new Date().toISOString(),
    type: 'mcp.notification',
    orgId: 'local',
    projectId: 'p',
    userId: 'u',
    machineId: 'm',
    sessionId,
    server: { name: 'srv', command: 'srv' },
    direction: 'server_to_client',
    method,
    bytes: 10,
  };
}

export const silent = { info() {}, warn() {}, error() {} };
