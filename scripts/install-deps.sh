#!/usr/bin/env bash
# Installs the Debian 12 packages micromoment needs to build, test and run its
# demo. Idempotent: installs only what is missing, and runs apt-get update
# only when something is. A bare Debian 12 (debootstrap --variant=minbase)
# needs only `make` (and `git` to get the source) before this; what else is
# assumed there is Essential in Debian (coreutils, bash, grep, sed, tar,
# util-linux, bsdutils' script(1)) and is checked by tests/integration/
# test_quickstart.sh. MM_DEPS_LIST=1 prints the package list and exits.
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
  file             # CPack's DEB generator (make package) runs file(1)
)
if [ "${MM_DEPS_TEST:-0}" = 1 ]; then
  packages+=(
    clang libclang-rt-14-dev  # libFuzzer, sanitizers
    docker-compose            # `docker-compose config` checks the compose file
    dpkg-dev                  # dpkg-shlibdeps for the .deb's Depends
    jq                        # JSON checks in the packaging test
    groff-base man-db         # the man page renders without warnings
    lintian                   # the .deb has no lintian error (test_packaging)
    openssl                   # a certificate for the HTTPS registry test
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

if [ "${MM_DEPS_LIST:-0}" = 1 ]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive

# promtool checks the metrics exposition and the Prometheus files in the
# tests. Debian ships it only inside the prometheus package, whose install
# starts a Prometheus server; so it is taken out of that package instead.
install_promtool() {
  command -v promtool >/dev/null && return 0
  local tmp
  tmp=$(mktemp -d)
  if ! (cd "$tmp" && apt-get download -qq prometheus >/dev/null 2>&1); then
    $sudo apt-get update -qq
    (cd "$tmp" && apt-get download -qq prometheus >/dev/null 2>&1)
  fi
  dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x"
  $sudo install -m 0755 "$tmp/x/usr/bin/promtool" /usr/local/bin/promtool
  rm -rf "$tmp"
  echo "install-deps: promtool installed in /usr/local/bin (from Debian's prometheus package)"
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
    || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  # apt's and dpkg's progress goes to a log, shown only when they fail.
  log=$(mktemp "${TMPDIR:-/tmp}/mm-install-deps.XXXXXX.log")
  echo "install-deps: installing ${missing[*]}"
  if ! { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
    >"$log" 2>&1; then
    tail -n 30 "$log"
    echo "install-deps: apt-get failed (whole log: $log)"
    exit 1
  fi
  rm -f "$log"
fi
if [ "${MM_DEPS_TEST:-0}" = 1 ]; then
  install_promtool
fi
