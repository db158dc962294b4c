/** Node/V8 flags of a service (apps/<service>) from tools/node-flags.conf. */
export declare function nodeFlags(service: string, conf?: string): string[];
/** The environment every service runs with: the `env` line of tools/node-flags.conf. */
export declare function serviceEnv(conf?: string): Record<string, string>;
/** Node's arguments for a service's main script: its flags, CPA_NODE_ARGS, the script's absolute path. */
export declare function serviceArgs(script: string, env: Record<string, string | undefined>): string[];
export declare const FAMILIES: string[];
export declare function build(options?: { quiet?: boolean }): void;
export declare function startStack(options?: {
  env?: Record<string, string>;
  quiet?: boolean;
  skipBuild?: boolean;
  families?: string[];
  refreshWorker?: boolean;
  onLine?: (name: string, line: string) => void;
}): Promise<{
  url: string;
  urls: string[];
  adminUrl: string;
  services: { name: string; label: string; script: string; child: import('node:child_process').ChildProcess }[];
  stop(): Promise<void>;
}>;
