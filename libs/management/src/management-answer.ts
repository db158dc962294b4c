/** Who the audit log names for a change made through the management API. */
export const MANAGEMENT_ACTOR = 'management-api';

/** CLIProxyAPI's answer to a change that has nothing more to say. */
export const OK = { status: 'ok' } as const;
