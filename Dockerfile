# The Airlock service image (API and worker) for docker-compose.yml. The sandbox images
# are separate (images/, built by scripts/build-images.sh on the worker's engine).
FROM node:20-bookworm-slim
# git reads every job patch (API, worker, review gate) and runs the git staging target
RUN apt-get update && apt-get install -y --no-install-recommends git && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund || npm install --omit=dev --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY bin ./bin
COPY profiles ./profiles
ENV AIRLOCK_HOST=0.0.0.0 AIRLOCK_DATA_DIR=/data
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 8080
CMD ["node", "--import", "tsx", "src/main.ts"]
