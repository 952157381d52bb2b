# Container image for mandate: the opa CLI (pinned) is built with Go, the sidecar runs on Node.js 22.
FROM golang:1.26-bookworm AS opa
RUN GOBIN=/out go install github.com/open-policy-agent/opa@v1.22.3

FROM node:22-bookworm-slim
WORKDIR /app
COPY --from=opa /out/opa /usr/local/bin/opa
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev
ENV MANDATE_HTTP_LISTEN=0.0.0.0:8181 MANDATE_GRPC_LISTEN=0.0.0.0:9191 MANDATE_OPA_PATH=/usr/local/bin/opa
EXPOSE 8181 9191
USER node
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["serve"]
