# The regional node adapter. Build from the repository root:
#   docker build -f deploy/docker/node-adapter.Dockerfile -t tessera/node-adapter .
# Run with a read-only root filesystem: the store lives on /data, the audit
# log, budget ledger and keys on /state, scratch on /tmp. Configuration: a
# file mounted at /etc/tessera/node.json and TESSERA_NODE_* from the
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
RUN npm ci --omit=dev --workspace @tessera/node-adapter --include-workspace-root=false --no-audit --no-fund \
  && npm cache clean --force

# What the node runs, over its dependencies (a workspace may keep some of its
# own, as schemas does), without tests: no test/ folders (the oracle, fakes
# and test helpers), no *.test.ts beside the code, no fixtures or scripts.
FROM deps AS sources
COPY schemas schemas
COPY http-kit http-kit
COPY node-adapter node-adapter
RUN rm -rf schemas/test schemas/fixtures schemas/scripts node-adapter/test \
  && find schemas http-kit node-adapter -name '*.test.ts' -delete

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=sources /app/node_modules node_modules
COPY --from=sources /app/schemas schemas
COPY --from=sources /app/http-kit http-kit
COPY --from=sources /app/node-adapter node-adapter
RUN mkdir -p /data /state /etc/tessera && chown 1000:1000 /data /state
# The image's `node` user, by number, so that runAsNonRoot can verify it.
USER 1000:1000
VOLUME ["/data", "/state", "/tmp"]
EXPOSE 8081
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s CMD ["node", "-e", "fetch('http://127.0.0.1:8081/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "node-adapter/bin/tessera-node.js"]
CMD ["serve", "--config", "/etc/tessera/node.json"]
