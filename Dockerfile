# syntax=docker/dockerfile:1
# One image for every service; SERVICE (or the command) picks what runs:
#   docker run -e SERVICE=gateway cliproxy-ts          -> node <flags> apps/gateway/dist/main.js
#   docker run cliproxy-ts node tools/migrate.mjs      -> any other command

ARG NODE_IMAGE=node:20-bookworm-slim

# Workspace manifests only, so the dependency layer below is rebuilt only when a
# package.json or the lockfile changes, and new workspaces need no Dockerfile edit.
FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY package.json package-lock.json ./
COPY libs ./libs
COPY apps ./apps
RUN mkdir -p /out \
 && cp package.json package-lock.json /out/ \
 && find libs apps -mindepth 2 -maxdepth 2 -name package.json -exec cp --parents {} /out/ \;

FROM ${NODE_IMAGE} AS build
# openssl: the Prisma CLI detects the platform's OpenSSL to pick its engine build.
RUN apt-get update \
 && apt-get install -y --no-install-recommends openssl ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=manifests /out/ ./
RUN npm ci --no-audit --no-fund
COPY . .
# The real schema engine downloads here, so no PRISMA_SCHEMA_ENGINE_BINARY override.
RUN npx prisma generate
RUN npm run build
RUN npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    SERVICE=gateway
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json /app/package-lock.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/libs ./libs
COPY --from=build --chown=node:node /app/apps ./apps
COPY --from=build --chown=node:node /app/tools ./tools
COPY --from=build --chown=node:node /app/prisma ./prisma
USER node
EXPOSE 8317 8318 9000
# `exec` replaces the shell, so SIGTERM from `docker stop` reaches node's shutdown hooks.
# The environment and the service's Node flags come from tools/node-flags.conf (as for
# `npm start`), then CPA_NODE_ARGS.
CMD ["sh", "-c", "exec env $(sed -n \"s/^env[[:space:]][[:space:]]*//p\" tools/node-flags.conf) node $(sed -n \"s/^$SERVICE[[:space:]][[:space:]]*//p\" tools/node-flags.conf) $CPA_NODE_ARGS apps/${SERVICE}/dist/main.js"]
