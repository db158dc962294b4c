import { executorQueue } from '@cpa/contracts';
import { bootstrapService } from '@cpa/runtime';
import { ExecutorModule } from './executor.module';
import { EXECUTOR_FAMILY } from './family';

bootstrapService(ExecutorModule, {
  name: `executor-${EXECUTOR_FAMILY}`,
  queues: [executorQueue(EXECUTOR_FAMILY)],
}).catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
