# The central gateway. Build from the repository root:
#   docker build -f deploy/docker/gateway.Dockerfile -t tessera/gateway .
# Run with a read-only root filesystem: what it writes goes to /state (PGlite,
# when no DATABASE_URL is set) and /tmp. Configuration: a file mounted at
# /etc/tessera/gateway.json, TESSERA_GATEWAY_* and DATABASE_URL from the
# environment; no secret is baked in. tests/deploy/images.test.ts checks these rules.
ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY schemas/package.json schemas/
COPY http-kit/package.json http-kit/
COPY node-adapter/package.json node-adapter/
COPY gateway/package.json gateway/
COPY tests/package.json tests/
RUN npm ci --omit=dev --workspace @tessera/gateway --include-workspace-root=false --ignore-scripts --no-audit --no-fund \
  && npm cache clean --force

FROM ${NODE_IMAGE} AS web
WORKDIR /app
COPY package.json package-lock.json ./
COPY schemas/package.json schemas/
COPY http-kit/package.json http-kit/
COPY node-adapter/package.json node-adapter/
COPY gateway/package.json gateway/
COPY tests/package.json tests/
RUN npm ci --workspace @tessera/gateway --include-workspace-root=false --ignore-scripts --no-audit --no-fund
COPY schemas schemas
COPY http-kit http-kit
COPY gateway gateway
RUN node --import tsx gateway/scripts/build-web.ts

# What the gateway runs, over its dependencies (a workspace may keep some of
# its own, as schemas does), without tests: no test/ folders (the test IdP,
# stand-in nodes, throwaway databases), no *.test.ts beside the code, no
# fixtures or scripts. The demo is a launcher in tests/ and is never copied.
FROM deps AS sources
COPY schemas schemas
COPY http-kit http-kit
COPY gateway gateway
RUN rm -rf schemas/test schemas/fixtures schemas/scripts gateway/test gateway/scripts \
  && find schemas http-kit gateway -name '*.test.ts' -delete
# The web page, bundled in a stage of its own: its build tools (esbuild,
# Preact, Chart.js, i18next) are development dependencies, never in the image.
COPY --from=web /app/gateway/dist/web gateway/dist/web

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=sources /app/node_modules node_modules
COPY --from=sources /app/schemas schemas
COPY --from=sources /app/http-kit http-kit
COPY --from=sources /app/gateway gateway
RUN mkdir -p /state /etc/tessera && chown 1000:1000 /state
# The image's `node` user, by number, so that runAsNonRoot can verify it.
USER 1000:1000
VOLUME ["/state", "/tmp"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "gateway/bin/tessera-gateway.js"]
CMD ["serve", "--config", "/etc/tessera/gateway.json"]
