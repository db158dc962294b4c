import { queueOf, Patterns } from '@cpa/contracts';
import { bootstrapService } from '@cpa/runtime';
import { SchedulerModule } from './scheduler.module';

bootstrapService(SchedulerModule, { name: 'scheduler', queues: [queueOf(Patterns.dispatch), queueOf(Patterns.attemptResult)] }).catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
