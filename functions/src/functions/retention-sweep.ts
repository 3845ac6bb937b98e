import { app } from '@azure/functions';
import { cloudRetentionSweep } from '../cloud-ports';
import { makeRetentionSweepTimer } from '../handlers/retention-sweep';

/** Retention in Azure: every hour on the hour (NCRONTAB, with seconds), as km serve sweeps every hour. */
export const RETENTION_SWEEP_SCHEDULE = '0 0 * * * *';

export const retentionSweepTimer = makeRetentionSweepTimer(cloudRetentionSweep);

app.timer('retention-sweep', { schedule: RETENTION_SWEEP_SCHEDULE, handler: (timer, context) => retentionSweepTimer(timer, context) });
