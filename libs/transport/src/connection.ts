import type { Redis } from 'ioredis';

/**
 * Quits after everything already issued: auto-pipelined commands wait for the next tick,
 * but QUIT is never pipelined and would overtake them. A PING joins the pipeline behind them.
 */
export async function closeConnection(connection: Redis | undefined): Promise<void> {
  if (connection === undefined) return;
  if (connection.status !== 'ready') {
    connection.disconnect();
    return;
  }
  try {
    await connection.ping();
    await connection.quit();
  } catch {
    connection.disconnect();
  }
}
