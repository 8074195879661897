#!/usr/bin/env bash
# Installs the Debian 12 packages micromoment needs to build, test and run its
# demo. Idempotent: installs only what is missing, and runs apt-get update
# only when something is.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  librdkafka-dev   # Kafka client
  libavro-dev      # Avro C
  libjemalloc-dev  # allocator
  libxxhash-dev    # seeded hashing of user ids, moment ids
  libcurl4-openssl-dev  # schema registry client
  libmicrohttpd-dev     # metrics endpoint
  libck-dev             # Concurrency Kit: lock-free rings between threads
  libutf8proc-dev       # Unicode NFKC case folding of queries and lexicons
  check            # unit tests
  kcat             # independent Kafka client the tests drive
  python3          # test helpers
)
if [ "${MM_DEPS_TEST:-0}" = 1 ]; then
  packages+=(
    clang libclang-rt-14-dev  # libFuzzer, sanitizers
    docker-compose            # `docker-compose config` checks the compose file
    dpkg-dev                  # dpkg-shlibdeps for the .deb's Depends
    jq                        # JSON checks in the packaging test
    groff-base man-db         # the man page renders without warnings
    default-jre-headless maven  # the real Kafka broker of the tests (tests/kafka)
  )
fi

if [ "${MM_DEPS_BENCH:-0}" = 1 ]; then
  packages+=(
    gnuplot-nox time          # the bench's chart and per-run resource use
    linux-perf                # the bench's optional profile section
    default-jdk-headless maven  # the bench's real-Kafka section; javac for bench/streams
  )
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
    || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
