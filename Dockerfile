# aigw-proxy container image: a build stage with Debian's -dev packages, and a slim runtime
# stage with only the shared libraries the binary links against.
#
#   docker build -t aigw-proxy:0.1.0 .
#   docker run --rm -p 1975:1975 aigw-proxy:0.1.0    # serves /etc/aigw/gateway.yaml
#
# The default config (configs/docker.yaml) listens on 0.0.0.0:1975 and sends everything to
# an Ollama reachable as http://ollama:11434/v1 (see docker-compose.yaml). Mount your own
# config over /etc/aigw/gateway.yaml to change it.

# ---------------------------------------------------------------------------------------------
FROM debian:bookworm-slim AS build

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ meson ninja-build pkg-config \
      libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev \
      libboost-program-options1.81-dev \
      libsimdjson-dev libyaml-cpp-dev libfmt-dev libssl-dev libre2-dev libhiredis-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# Only what `meson setup` reads (see .dockerignore): the sources, and the test and bench
# meson files with the sources they name (meson checks they exist; they are not built).
COPY . .

# json_simd=generic: the image must run on any x86-64, not only on CPUs like the build
# machine's (auto would build the JSON scanner for AVX2 when the builder has it, and the
# binary would then refuse to start on a CPU without it).
# Only the aigw-proxy target is built: the unit tests and benchmarks are not needed here.
RUN meson setup build --buildtype=release -Djson_simd=generic \
 && ninja -C build -j "$(nproc)" aigw-proxy \
 && install -D -s -m 0755 build/aigw-proxy /out/aigw-proxy

# ---------------------------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime

# The runtime packages of the libraries `ldd aigw-proxy` lists (libstdc++, libgcc and libc
# are already in the base image), and ca-certificates: HTTPS backends are verified against
# the system store. Installing them brings nothing else of note (openssl, for
# ca-certificates' update script, and libboost-container1.81.0, for Boost.JSON).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libboost-program-options1.81.0 libboost-json1.81.0 libboost-url1.81.0 \
      libsimdjson14 libyaml-cpp0.7 libfmt9 libssl3 libre2-9 libhiredis0.14 ca-certificates \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log \
 && groupadd --system --gid 1975 aigw \
 && useradd --system --uid 1975 --gid aigw --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin aigw

# The image's name and version, as deploy/kubernetes names it (tests/integration/kubernetes
# checks that they agree, and that the version is meson.build's).
LABEL org.opencontainers.image.title="aigw-proxy" \
      org.opencontainers.image.version="0.1.0"

COPY --from=build /out/aigw-proxy /usr/local/bin/aigw-proxy
COPY configs/docker.yaml /etc/aigw/gateway.yaml

# Numeric, so that runtimes can tell it is not root without reading /etc/passwd
# (Kubernetes' runAsNonRoot).
USER 1975:1975
EXPOSE 1975 1064

# No curl in the image: bash's /dev/tcp sends GET /healthz and the status line must say 200.
# AIGW_HEALTHCHECK_ADDR is where to ask, for a container started with another --listen.
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/bin/bash", "-c", "addr=${AIGW_HEALTHCHECK_ADDR:-127.0.0.1:1975}; exec 3<>\"/dev/tcp/${addr%:*}/${addr##*:}\" || exit 1; printf 'GET /healthz HTTP/1.1\\r\\nHost: %s\\r\\nConnection: close\\r\\n\\r\\n' \"$addr\" >&3; read -r -t 2 proto status rest <&3; [[ $status == 200 ]]"]

# SIGTERM (docker stop) is handled by the gateway itself: it stops and exits 0.
ENTRYPOINT ["/usr/local/bin/aigw-proxy"]
CMD ["--config", "/etc/aigw/gateway.yaml"]
