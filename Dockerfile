# One image for both apps; docker-compose.yml picks the command. Node 24 runs the TypeScript
# sources directly (type stripping), so there is no build stage.
FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
COPY apps/authz-server/package.json apps/authz-server/package.json
COPY apps/resource-server-demo/package.json apps/resource-server-demo/package.json
COPY packages/cnf-verifier/package.json packages/cnf-verifier/package.json
RUN npm ci --omit=dev --no-audit --no-fund
COPY apps apps
COPY packages packages
COPY db db
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 8443 8444 9443
CMD ["node", "--conditions=certbound-source", "--max-semi-space-size=4", "apps/authz-server/src/main.ts"]
