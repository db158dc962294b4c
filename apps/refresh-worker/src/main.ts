import { queueOf, Patterns } from '@cpa/contracts';
import { bootstrapService } from '@cpa/runtime';
import { RefreshWorkerModule } from './refresh-worker.module';

// Scheduled refreshes come from BullMQ; the transport queue carries executors' refresh-on-401 requests.
bootstrapService(RefreshWorkerModule.forRoot(), { name: 'refresh-worker', queues: [queueOf(Patterns.refresh)] }).catch(
  (err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
