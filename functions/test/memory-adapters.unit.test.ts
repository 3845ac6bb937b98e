import { MemoryEventLog } from '../src/adapters/memory-event-log';
import { MemoryReadModelStore } from '../src/adapters/memory-read-model-store';
import { testEventLog } from './contracts/event-log.contract';
import { testReadModelStore } from './contracts/read-model-store.contract';

describe('MemoryEventLog', () => {
  testEventLog(async () => new MemoryEventLog());
});

describe('MemoryReadModelStore', () => {
  testReadModelStore(async () => new MemoryReadModelStore());
});
