# The mlstack ONNX Runtime server image: `mlstack serve` (KServe v2 over HTTP on :8000 with metrics at /metrics,
# and over gRPC on :8001).
# Build from the repository root:  docker build -f docker/mlstack-server.Dockerfile -t mlstack-server:0.1.0 .
# The CPU binaries of onnxruntime-node ship in the npm package; its install script (CUDA download) is skipped.

FROM node:20-bookworm-slim AS build
ENV ONNXRUNTIME_NODE_INSTALL=skip
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json index.ts ./
COPY src ./src
COPY constructs ./constructs
COPY stacks ./stacks
RUN npm run build

FROM node:20-bookworm-slim
ENV ONNXRUNTIME_NODE_INSTALL=skip NODE_ENV=production
WORKDIR /opt/mlstack
COPY package.json package-lock.json .npmrc ./
# Serving needs no cloud framework: the peer dependencies are optional and dev-only here.
# onnxruntime-node is an optional peer of mlstack (synth does not need it); the server does.
RUN npm ci --omit=dev --no-audit --no-fund \
  && npm install --no-save --no-audit --no-fund "onnxruntime-node@$(node -p "require('./package.json').peerDependencies['onnxruntime-node']")" \
  && npm cache clean --force \
  # onnxruntime-node ships binaries for every OS (~290 MB); keep Linux's (~70 MB).
  && find node_modules/onnxruntime-node/bin -mindepth 2 -maxdepth 2 -type d ! -name linux -exec rm -rf {} +
COPY --from=build /src/dist ./dist
COPY bin ./bin
# The gRPC service definition the server loads at start.
COPY proto ./proto
# The node image's unprivileged user; the root filesystem can be mounted read-only (models come in a volume).
USER 1000:1000
EXPOSE 8000 8001
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "require('http').get('http://127.0.0.1:8000/v2/health/ready', r => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))"
ENTRYPOINT ["node", "/opt/mlstack/bin/mlstack.js"]
CMD ["serve", "/models", "--host", "0.0.0.0", "--port", "8000", "--grpc-port", "8001"]
