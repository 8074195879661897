# micromoment container image: a build stage with the Debian 12 toolchain
# (the same package list as scripts/install-deps.sh, by running it) that
# builds and unit-tests, and a slim runtime stage with only the shared
# libraries, kcat (for the compose generator) and the installed files.
#
#   docker build -t micromoment:0.1.0 .
#   docker run --rm micromoment:0.1.0 run -b kafka:9092 -X mm.metrics.listen=0.0.0.0:9464

# ---- build ------------------------------------------------------------------
FROM debian:12-slim AS build
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN scripts/install-deps.sh
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
 && cmake --build /build -j"$(nproc)" \
 && ctest --test-dir /build -L unit --output-on-failure -j"$(nproc)" \
 && DESTDIR=/out cmake --install /build --strip

# ---- runtime ----------------------------------------------------------------
FROM debian:12-slim
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      librdkafka1 libavro23 libjemalloc2 libxxhash0 libck0 libcurl4 libmicrohttpd12 \
      libutf8proc2 \
      kcat ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin micromoment
COPY --from=build /out/usr/bin/micromoment /usr/bin/micromoment
COPY --from=build /out/usr/share/micromoment /usr/share/micromoment
COPY --from=build /out/usr/share/man/man1/micromoment.1.gz /usr/share/man/man1/
COPY packaging/micromoment.conf.example /etc/micromoment/micromoment.conf
USER 10001:10001
EXPOSE 9464
ENTRYPOINT ["/usr/bin/micromoment"]
CMD ["--help"]
