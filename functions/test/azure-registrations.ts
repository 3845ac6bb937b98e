import type { EventHubFunctionOptions, HttpFunctionOptions, TimerFunctionOptions } from '@azure/functions';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

export interface RecordedHttpFunction extends HttpFunctionOptions {
  name: string;
}

export interface RecordedEventHubFunction extends EventHubFunctionOptions {
  name: string;
}

export interface RecordedTimerFunction extends TimerFunctionOptions {
  name: string;
}

/**
 * Loads every file of src/functions/ as the Functions host would, with app.http replaced by a recorder (without a
 * host, the real one only warns). Call it inside jest.isolateModules so each test gets fresh modules.
 */
export function loadFunctionsApp(): RecordedHttpFunction[] {
  return loadFunctionsAppWithTriggers().http;
}

/** The same, also recording app.eventHub registrations (the projector and archive triggers) and app.timer ones. */
export function loadFunctionsAppWithTriggers(): { http: RecordedHttpFunction[]; eventHub: RecordedEventHubFunction[]; timer: RecordedTimerFunction[] } {
  const recorded: RecordedHttpFunction[] = [];
  const eventHub: RecordedEventHubFunction[] = [];
  const timer: RecordedTimerFunction[] = [];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const azure = require('@azure/functions') as typeof import('@azure/functions');
  jest.spyOn(azure.app, 'http').mockImplementation((name, options) => void recorded.push({ name, ...options }));
  jest.spyOn(azure.app, 'eventHub').mockImplementation((name, options) => void eventHub.push({ name, ...options }));
  jest.spyOn(azure.app, 'timer').mockImplementation((name, options) => void timer.push({ name, ...options }));
  jest.spyOn(azure.app.hook, 'appTerminate').mockImplementation(() => ({ dispose() {} }) as never);
  const dir = join(__dirname, '..', 'src', 'functions');
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.ts'))) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(join(dir, file));
  }
  return { http: recorded, eventHub, timer };
}
