import { queueOf, Patterns } from '@cpa/contracts';
import { bootstrapService } from '@cpa/runtime';
import { SchedulerModule } from './scheduler.module';

// The scheduler routes by the request's fields, never its body: large bodies go from the gateway to the executor by reference.
bootstrapService(SchedulerModule, {
  name: 'scheduler',
  queues: [queueOf(Patterns.dispatch), queueOf(Patterns.attemptResult)],
  readsBodies: false,
}).catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
