import { Command } from 'commander';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadSettings, resolveTarget } from '../config/settings';

/** Where km ships, whether it answers, and what waits in the spool. */
export function statusCommand(): Command {
  return new Command('status').description('Show where events go and what waits in the local spool').action(async () => {
    const settings = loadSettings();
    const { endpoint, apiKey } = resolveTarget(settings);
    let files = 0;
    let bytes = 0;
    try {
      for (const name of readdirSync(join(settings.home, 'spool'))) {
        if (!name.endsWith('.jsonl') || name === 'rejected.jsonl') continue;
        files++;
        bytes += statSync(join(settings.home, 'spool', name)).size;
      }
    } catch {
      // no spool yet
    }
    let reachable = 'no';
    try {
      const headers: Record<string, string> = apiKey ? { authorization: `Bearer ${apiKey}` } : {};
      const res = await fetch(`${endpoint}/api/sessions?limit=1`, { headers, signal: AbortSignal.timeout(2000) });
      reachable = res.ok ? 'yes' : res.status === 401 || res.status === 403 ? 'yes, but the API key is refused' : `answers ${res.status}`;
    } catch {
      reachable = 'no (nothing listens)';
    }
    process.stdout.write(
      [`home:      ${settings.home}`, `endpoint:  ${endpoint} (reachable: ${reachable})`, `api key:   ${apiKey ? 'set' : 'none'}`, `org:       ${settings.orgId}`, `spool:     ${files} file(s), ${bytes} bytes`].join('\n') + '\n',
    );
  });
}
