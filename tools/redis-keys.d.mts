export declare function deleteKeys(redisUrl: string, prefix: string): Promise<void>;
