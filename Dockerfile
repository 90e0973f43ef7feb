# The `cpts` binary for docker-compose.yml (api and worker services).
FROM rust:1.95-bookworm AS build
# Node.js and npm: build.rs installs the web app's front-end packages (web/package-lock.json).
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked && cp target/release/cpts /usr/local/bin/cpts

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl procps \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/bin/cpts /usr/local/bin/cpts
# fixtures/data holds the reference communes (territories, INSEE centroids) the service reads.
COPY fixtures/data /srv/cpts/fixtures/data
WORKDIR /srv/cpts
USER nobody
EXPOSE 8080
CMD ["cpts", "serve", "--bind", "0.0.0.0:8080"]
