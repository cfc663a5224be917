# The central gateway. Build from the repository root:
#   docker build -f deploy/docker/gateway.Dockerfile -t tessera/gateway .
FROM node:20.19-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY schemas/package.json schemas/
COPY node-adapter/package.json node-adapter/
COPY gateway/package.json gateway/
COPY tests/package.json tests/
RUN npm ci --omit=dev --workspace @tessera/gateway --include-workspace-root=false --no-audit --no-fund

FROM node:20.19-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules node_modules
COPY schemas schemas
COPY gateway gateway
RUN mkdir -p /state && chown node:node /state
USER node
VOLUME ["/state"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD node -e "fetch('http://127.0.0.1:8080/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "gateway/bin/tessera-gateway.js"]
CMD ["serve", "--config", "/etc/tessera/gateway.json"]
