import { bootstrapService } from '@cpa/runtime';
import { RefreshWorkerModule } from './refresh-worker.module';

// No request queues: the worker takes jobs from BullMQ and only listens to broadcasts.
bootstrapService(RefreshWorkerModule.forRoot(), { name: 'refresh-worker', queues: [] }).catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
