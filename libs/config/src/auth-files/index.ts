// CLIProxyAPI token files (auth-dir/*.json): codec, storage, directory import.
export * from './auth-dir';
export * from './auth-file-store';
export * from './token-file';
