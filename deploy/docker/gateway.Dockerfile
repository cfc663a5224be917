# The central gateway. Build from the repository root:
#   docker build -f deploy/docker/gateway.Dockerfile -t tessera/gateway .
FROM node:20.19-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY schemas/package.json schemas/
COPY http-kit/package.json http-kit/
COPY node-adapter/package.json node-adapter/
COPY gateway/package.json gateway/
COPY tests/package.json tests/
RUN npm ci --omit=dev --workspace @tessera/gateway --include-workspace-root=false --no-audit --no-fund

# What the gateway runs, over its dependencies (a workspace may keep some of
# its own, as schemas does), without tests: no test/ folders (the test IdP,
# stand-in nodes, throwaway databases) and no *.test.ts beside the code. The
# demo is a launcher in tests/ and is never copied.
FROM deps AS sources
COPY schemas schemas
COPY http-kit http-kit
COPY gateway gateway
# The web page, bundled from gateway/src/web into gateway/dist/web.
RUN node --import tsx gateway/scripts/build-web.ts
RUN rm -rf schemas/test gateway/test && find schemas http-kit gateway -name '*.test.ts' -delete

FROM node:20.19-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=sources /app/node_modules node_modules
COPY --from=sources /app/schemas schemas
COPY --from=sources /app/http-kit http-kit
COPY --from=sources /app/gateway gateway
RUN mkdir -p /state && chown node:node /state
USER node
VOLUME ["/state"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD node -e "fetch('http://127.0.0.1:8080/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "gateway/bin/tessera-gateway.js"]
CMD ["serve", "--config", "/etc/tessera/gateway.json"]
