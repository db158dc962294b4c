-- Client keys beyond CLIProxyAPI's plain list: allowed models, tokens-per-minute limit,
-- daily and monthly token budgets (0 = unlimited) and an optional expiry.
ALTER TABLE "client_api_keys"
    ADD COLUMN "models" TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[],
    ADD COLUMN "tpm_limit" INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN "daily_token_budget" BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN "monthly_token_budget" BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN "expires_at" TIMESTAMP(3);
