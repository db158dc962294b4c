-- One row per client request, kept for usage-retention-days (deleted by the admin).
CREATE TABLE "usage_requests" (
    "id" BIGSERIAL NOT NULL,
    "request_key" TEXT NOT NULL,
    "request_id" TEXT NOT NULL DEFAULT '',
    "at" TIMESTAMP(3) NOT NULL,
    "client_key_id" TEXT NOT NULL DEFAULT '',
    "credential_id" TEXT NOT NULL DEFAULT '',
    "family" TEXT NOT NULL DEFAULT '',
    "model" TEXT NOT NULL,
    "status" INTEGER NOT NULL,
    "latency_ms" INTEGER NOT NULL,
    "ttfb_ms" INTEGER,
    "input_tokens" BIGINT NOT NULL DEFAULT 0,
    "output_tokens" BIGINT NOT NULL DEFAULT 0,
    "cached_tokens" BIGINT NOT NULL DEFAULT 0,
    "reasoning_tokens" BIGINT NOT NULL DEFAULT 0,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "source" TEXT NOT NULL DEFAULT '',

    CONSTRAINT "usage_requests_pkey" PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "usage_requests_request_key_key" ON "usage_requests"("request_key");
CREATE INDEX "usage_requests_at_id_idx" ON "usage_requests"("at" DESC, "id" DESC);
CREATE INDEX "usage_requests_client_key_id_at_idx" ON "usage_requests"("client_key_id", "at");
CREATE INDEX "usage_requests_credential_id_at_idx" ON "usage_requests"("credential_id", "at");

-- Hourly roll-up of usage_requests (kept for good); histograms count requests per latency bucket.
CREATE TABLE "usage_hourly" (
    "hour" TIMESTAMP(3) NOT NULL,
    "client_key_id" TEXT NOT NULL DEFAULT '',
    "credential_id" TEXT NOT NULL DEFAULT '',
    "family" TEXT NOT NULL DEFAULT '',
    "model" TEXT NOT NULL,
    "status" INTEGER NOT NULL,
    "requests" INTEGER NOT NULL DEFAULT 0,
    "input_tokens" BIGINT NOT NULL DEFAULT 0,
    "output_tokens" BIGINT NOT NULL DEFAULT 0,
    "cached_tokens" BIGINT NOT NULL DEFAULT 0,
    "reasoning_tokens" BIGINT NOT NULL DEFAULT 0,
    "latency_hist" INTEGER[],
    "ttfb_hist" INTEGER[],

    CONSTRAINT "usage_hourly_pkey" PRIMARY KEY ("hour","client_key_id","credential_id","family","model","status")
);

-- Element-wise sum of two histograms (the shorter padded with zeros), for roll-up upserts.
CREATE FUNCTION "cpa_histogram_add"(a INTEGER[], b INTEGER[]) RETURNS INTEGER[]
LANGUAGE SQL IMMUTABLE AS $$
  SELECT COALESCE(array_agg(COALESCE(x, 0) + COALESCE(y, 0) ORDER BY i), '{}')
  FROM unnest(COALESCE(a, '{}'), COALESCE(b, '{}')) WITH ORDINALITY AS t(x, y, i)
$$;

-- Sum of histograms, for summaries over many roll-up rows.
CREATE AGGREGATE "cpa_histogram_sum"(INTEGER[]) (SFUNC = "cpa_histogram_add", STYPE = INTEGER[], INITCOND = '{}');
