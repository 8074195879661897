#!/usr/bin/env bash
# kafka-broker.sh: a real, single-node Apache Kafka (KRaft) broker for the micromoment tests.
#
#   kafka-broker.sh provision [BUILD_DIR]    fetch the Kafka jars (Maven) into BUILD_DIR/kafka-libs
#   kafka-broker.sh start [BUILD_DIR]        start a fresh broker; stdout: line 1 bootstrap address,
#                                            line 2 state dir (pass it to the commands below)
#   kafka-broker.sh stop STATE_DIR           SIGTERM (SIGKILL after 30 s), then delete STATE_DIR
#   kafka-broker.sh kill STATE_DIR           SIGKILL the broker, keep its log dir (crash test)
#   kafka-broker.sh restart STATE_DIR        start again on the same log dir and the same ports
#   kafka-broker.sh status STATE_DIR         print "running|stopped BOOTSTRAP PID"
#   kafka-broker.sh tool STATE_DIR CLASS ARGS...
#                                            run a Kafka tool from the same class path; a CLASS
#                                            not starting with org. or kafka. is taken relative
#                                            to org.apache.kafka.tools (consumer.group.Consumer...);
#                                            STATE_DIR "-": no broker of ours (an external
#                                            cluster), jars from MM_KAFKA_BUILD_DIR
#
# BUILD_DIR defaults to <repo>/build/kafka. Environment:
#   MM_M2_REPO             Maven local repository to use (default: Maven's own, ~/.m2/repository)
#   MM_KAFKA_PARENT_PID    the broker is stopped when this process ends (default: the caller,
#                          i.e. this script's parent); 0 disables that watchdog
#   MM_KAFKA_START_TIMEOUT seconds to wait for the broker to answer metadata (default 60)
#   MM_KAFKA_PROPS         extra server.properties lines, appended (later keys win);
#                          @PORT@ and @CONTROLLER_PORT@ are replaced by the ports in use
#   MM_KEEP_KAFKA=1        keep the state dir (data + logs) on stop / watchdog cleanup
#   MM_KAFKA_BUILD_DIR     BUILD_DIR for `tool -` (default <repo>/build/kafka)
#
# Exit status: 0 ok, 3 real Kafka cannot be provisioned here (no java/mvn/network: skip the
# tests that need it), 2 usage, 1 anything else.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SCRIPT_PATH="$SCRIPT_DIR/$(basename "${BASH_SOURCE[0]}")"
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
POM="$SCRIPT_DIR/pom.xml"
DEFAULT_BUILD_DIR="$REPO_ROOT/build/kafka"
START_TIMEOUT=${MM_KAFKA_START_TIMEOUT:-60}
STOP_TIMEOUT=30
BROKER_HEAP=(-Xms512m -Xmx1g)
TOOL_HEAP=(-Xmx512m)
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java

say() { printf 'kafka-broker: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
usage() { sed -n '2,/^#$/p' "$SCRIPT_PATH" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# One line on stderr and exit 3, so a test runner can tell "no real Kafka here" (skip) from
# "Kafka broke" (fail).
cannot_provision() {
    printf 'kafka-broker: cannot provision real Kafka: %s\n' "$*" >&2
    exit 3
}

kafka_version() { sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n1; }

abs_path() { # resolve a possibly relative directory against the caller's cwd
    case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac
}

# ---------------------------------------------------------------- provisioning

# Kafka 4 needs Java 17+ for the broker; say so now rather than with a stack trace later.
check_java() {
    command -v "$JAVA" >/dev/null 2>&1 || cannot_provision "no java on PATH (need Java 17+)"
    local v major
    v=$("$JAVA" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n1)
    major=${v%%.*}
    [[ $major =~ ^[0-9]+$ ]] || cannot_provision "cannot tell the Java version ('$JAVA -version')"
    ((major >= 17)) || cannot_provision "Java $v is too old (Kafka 4 needs Java 17+)"
}

# Copies the jars into BUILD_DIR/kafka-libs unless a stamp says this very pom already did.
# Maven writes into a scratch dir that replaces kafka-libs only when complete, so a failed or
# interrupted run never leaves a half-filled class path, and jars of an older pinned version
# never linger next to the new ones (the class path is the whole directory).
provision() {
    local build_dir=$1 libs="$1/kafka-libs" hash log rc=0
    check_java
    command -v mvn >/dev/null 2>&1 || cannot_provision "no mvn on PATH (Maven fetches the jars)"
    [[ -f $POM ]] || cannot_provision "missing $POM"
    mkdir -p "$build_dir" || cannot_provision "cannot create $build_dir"
    hash=$(sha256sum "$POM" | cut -d' ' -f1)

    # Test jobs running in parallel may all provision at once: one does it, the others wait.
    exec 9>"$build_dir/.provision.lock"
    flock 9
    if [[ -f $libs/.stamp && $(cat "$libs/.stamp") == "$hash" ]]; then
        exec 9>&-
        return 0
    fi

    log="$build_dir/provision.log"
    local -a mvn_args=(-q -B -f "$POM" package -Dkafka.libs.dir="$libs.tmp")
    [[ -n ${MM_M2_REPO:-} ]] && mvn_args+=(-Dmaven.repo.local="$MM_M2_REPO")
    rm -rf "$libs.tmp"
    # progress note for people at a terminal; test logs get one line, and only on failure
    [[ -t 2 ]] && say "provisioning Apache Kafka $(kafka_version) jars into $libs (Maven) ..."
    mvn "${mvn_args[@]}" >"$log" 2>&1 </dev/null || rc=$?
    if ((rc != 0)); then
        rm -rf "$libs.tmp"
        if grep -Eqi 'could not (transfer|resolve)|unknownhost|connect(ion)? (refused|timed out)|network is unreachable|offline' "$log"; then
            cannot_provision "Maven could not download Kafka $(kafka_version) (no network to Maven Central?); see $log"
        fi
        cannot_provision "mvn failed (exit $rc); see $log"
    fi
    compgen -G "$libs.tmp/kafka_2.13-*.jar" >/dev/null ||
        cannot_provision "Maven ran but copied no kafka_2.13 jar; see $log"
    printf '%s\n' "$hash" >"$libs.tmp/.stamp"
    rm -rf "$libs"
    mv "$libs.tmp" "$libs"
    exec 9>&-
}

# ---------------------------------------------------------------- state

# Everything a later command needs is in STATE_DIR/broker.state (key=value, shell-quoted).
STATE_DIR=""
save_state() {
    local tmp="$STATE_DIR/broker.state.tmp"
    {
        printf 'BOOTSTRAP=%q\n' "$BOOTSTRAP"
        printf 'PORT=%q\n' "$PORT"
        printf 'CONTROLLER_PORT=%q\n' "$CONTROLLER_PORT"
        printf 'LIBS=%q\n' "$LIBS"
        printf 'BROKER_PID=%q\n' "${BROKER_PID:-}"
        printf 'WATCHDOG_PID=%q\n' "${WATCHDOG_PID:-}"
        printf 'PARENT_PID=%q\n' "${PARENT_PID:-0}"
    } >"$tmp"
    mv "$tmp" "$STATE_DIR/broker.state" # atomic: the watchdog may be reading it
}

load_state() {
    STATE_DIR=$(abs_path "${1:?state dir}")
    STATE_DIR=${STATE_DIR%/}
    [[ -f $STATE_DIR/broker.state ]] || die "$STATE_DIR is not a kafka-broker.sh state dir"
    # shellcheck source=/dev/null
    source "$STATE_DIR/broker.state"
}

# Start time of a process (clock ticks since boot), so a recycled pid is not mistaken for it.
proc_start() { [[ -r /proc/$1/stat ]] && sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f20; }

# True if PID is the java broker of this state dir: never signal some unrelated process that
# inherited a stale pid.
broker_alive() {
    local pid=${1:-}
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
    [[ -r /proc/$pid/cmdline ]] || return 0
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "kafka.Kafka $STATE_DIR/server.properties"
}

# ---------------------------------------------------------------- config

# Two free loopback ports (broker, controller). The OS picks them; there is a small window
# before Kafka binds them, covered by start's retry.
free_ports() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c '
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in ss))'
        return
    fi
    local -a found=()
    local p
    while ((${#found[@]} < 2)); do
        p=$((20000 + RANDOM % 40000))
        # a refused connection means nobody listens there
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && [[ " ${found[*]} " != *" $p "* ]]; then
            found+=("$p")
        fi
    done
    echo "${found[@]}"
}

write_config() {
    cat >"$STATE_DIR/server.properties" <<EOF
# Single node, combined broker + controller (KRaft), loopback only. Written by kafka-broker.sh.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$STATE_DIR/data
num.partitions=1
auto.create.topics.enable=true
# one broker: every internal topic has a single replica
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# tests should not wait 3 s for the first group join
group.initial.rebalance.delay.ms=0
num.recovery.threads.per.data.dir=1
# After a SIGKILL the restarted node's controller keeps the dead incarnation registered until
# its session times out (DUPLICATE_BROKER_REGISTRATION until then): 9 s by default, counted
# from when the controller comes back. 4 s makes crash/restart tests wait less.
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=1000
EOF
    if [[ -n ${MM_KAFKA_PROPS:-} ]]; then
        # @PORT@ and @CONTROLLER_PORT@ stand for the ports picked here, so that extra
        # listeners can be declared next to the PLAINTEXT one (tests/integration/test_tls.sh).
        local props=${MM_KAFKA_PROPS//@PORT@/$PORT}
        props=${props//@CONTROLLER_PORT@/$CONTROLLER_PORT}
        printf '# from MM_KAFKA_PROPS\n%s\n' "$props" >>"$STATE_DIR/server.properties"
    fi

    # Kafka 4 logs through Log4j 2 (its distribution uses config/log4j2.yaml; the properties
    # format needs no YAML parser). Everything goes to a file; the console stays quiet.
    cat >"$STATE_DIR/log4j2.properties" <<'EOF'
status = warn
dest = err
name = mm-kafka-broker
property.dir = ${sys:kafka.logs.dir}
appender.server.type = RollingFile
appender.server.name = server
appender.server.fileName = ${dir}/server.log
appender.server.filePattern = ${dir}/server.log.%i
appender.server.layout.type = PatternLayout
appender.server.layout.pattern = [%d] %p %m (%c)%n
appender.server.policies.type = Policies
appender.server.policies.size.type = SizeBasedTriggeringPolicy
appender.server.policies.size.size = 50MB
appender.server.strategy.type = DefaultRolloverStrategy
appender.server.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.server.ref = server
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF
    # Tools (perf tests, consumer groups): warnings and errors on stderr only, like Kafka's
    # config/tools-log4j2.yaml, so their stdout stays parseable.
    cat >"$STATE_DIR/tools-log4j2.properties" <<'EOF'
status = warn
dest = err
name = mm-kafka-tools
appender.err.type = Console
appender.err.name = err
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = err
EOF
}

# A fresh cluster id: 16 random bytes, URL-safe base64 without padding (Kafka's Uuid format);
# saves a JVM start over `kafka-storage random-uuid`.
# Not starting with '-': the storage tool's argument parser would take it for an option.
random_cluster_id() {
    local id=-
    while [[ $id == -* ]]; do id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'); done
    printf '%s\n' "$id"
}

# Kafka 4's `kafka-storage.sh format --standalone`: a single-node dynamic (KIP-853) quorum whose
# voter set (with the controller endpoint) is written into the metadata log, hence "same ports"
# on restart.
format_storage() {
    "$JAVA" -Xmx256m -Dlog4j2.configurationFile="$STATE_DIR/tools-log4j2.properties" \
        -cp "$LIBS/*" kafka.tools.StorageTool format --standalone \
        --config "$STATE_DIR/server.properties" --cluster-id "$(random_cluster_id)" \
        >"$STATE_DIR/logs/format.log" 2>&1 </dev/null
}

# ---------------------------------------------------------------- broker process

# Launch in the background, detached from our stdout/stderr: a caller reading `start`'s output
# through $(...) must see EOF when start returns, not when the broker exits.
launch_broker() {
    "$JAVA" "${BROKER_HEAP[@]}" -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
        -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$STATE_DIR/log4j2.properties" \
        -Dkafka.logs.dir="$STATE_DIR/logs" \
        -cp "$LIBS/*" kafka.Kafka "$STATE_DIR/server.properties" \
        >>"$STATE_DIR/logs/broker.out" 2>&1 </dev/null &
    BROKER_PID=$!
    save_state
}

# Ready = the broker answers a metadata request listing itself, and no partition of an existing
# topic is leaderless (after a restart, logs are recovered before partitions come back).
broker_ready() {
    if command -v kcat >/dev/null 2>&1; then
        local md
        md=$(timeout 10 kcat -b "$BOOTSTRAP" -L -m 2 2>/dev/null) || return 1
        grep -q "broker 1 at 127.0.0.1:$PORT" <<<"$md" || return 1
        if grep -q 'leader -1' <<<"$md"; then return 1; fi
    else
        # no kcat: the broker logs this once its listeners are up
        grep -q 'Kafka Server started' "$STATE_DIR/logs/server.log" 2>/dev/null &&
            (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
    fi
}

# 0 ready, 1 timed out, 2 the JVM died (bind error and the like; see the logs), 3 the
# watchdog is stopping it (the parent went away meanwhile)
wait_ready() {
    local deadline=$((SECONDS + START_TIMEOUT))
    while ((SECONDS < deadline)); do
        watchdog_fired && return 3
        broker_alive "$BROKER_PID" || return 2
        broker_ready && return 0
        sleep 0.3
    done
    return 1
}

# Signal and wait for the JVM to go; SIGKILL after STOP_TIMEOUT seconds of SIGTERM.
stop_broker() {
    local sig=$1 pid=${BROKER_PID:-} waited=0
    broker_alive "$pid" || return 0
    kill "-$sig" "$pid" 2>/dev/null || true
    while broker_alive "$pid"; do
        if [[ $sig == TERM ]] && ((waited >= STOP_TIMEOUT * 10)); then
            say "broker $pid ignored SIGTERM for ${STOP_TIMEOUT}s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sig=KILL
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
}

show_log_tail() {
    local f
    for f in "$STATE_DIR/logs/format.log" "$STATE_DIR/logs/broker.out" "$STATE_DIR/logs/server.log"; do
        [[ -s $f ]] || continue
        say "--- last lines of $f"
        grep -E 'ERROR|FATAL|Exception|rror:' "$f" | tail -n 8 >&2 || tail -n 8 "$f" >&2
    done
}

remove_state_dir() {
    if [[ ${MM_KEEP_KAFKA:-0} == 1 ]]; then
        say "keeping $STATE_DIR (MM_KEEP_KAFKA=1)"
    elif [[ -f $STATE_DIR/broker.state ]]; then # only ever delete a dir we made
        rm -rf "$STATE_DIR"
    fi
}

# ---------------------------------------------------------------- watchdog

# Which process the broker's life is tied to: MM_KAFKA_PARENT_PID, else whoever ran us.
choose_parent() {
    PARENT_PID=${MM_KAFKA_PARENT_PID:-$PPID}
    [[ $PARENT_PID == none ]] && PARENT_PID=0
    [[ $PARENT_PID =~ ^[0-9]+$ ]] || die "MM_KAFKA_PARENT_PID must be a pid or 0, not '$PARENT_PID'"
    if ((PARENT_PID != 0)); then
        kill -0 "$PARENT_PID" 2>/dev/null || die "parent pid $PARENT_PID does not exist"
        PARENT_START=$(proc_start "$PARENT_PID" || true)
    fi
}

# Stops the broker when PARENT_PID goes away, so a test run that crashes or is interrupted does
# not leave a JVM behind. Started before the JVM, so it covers startup too. It reads the broker
# pid from the state file when it acts, so it survives kill/restart cycles, and it exits once
# `stop` has run (or the state dir is gone).
start_watchdog() {
    WATCHDOG_PID=""
    ((PARENT_PID != 0)) || return 0
    local parent_start=${PARENT_START:-}
    (
        trap '' INT HUP # only the parent's disappearance or `stop` ends it
        while [[ -f $STATE_DIR/broker.state && ! -e $STATE_DIR/stopping ]]; do
            if ! kill -0 "$PARENT_PID" 2>/dev/null ||
                [[ -n $parent_start && $(proc_start "$PARENT_PID" || true) != "$parent_start" ]]; then
                echo "$(date '+%F %T') parent $PARENT_PID gone: stopping broker" >>"$STATE_DIR/logs/watchdog.log"
                touch "$STATE_DIR/stopping"
                # shellcheck source=/dev/null
                source "$STATE_DIR/broker.state"
                stop_broker TERM
                remove_state_dir
                exit 0
            fi
            sleep 1
        done
    ) >/dev/null 2>&1 </dev/null &
    WATCHDOG_PID=$!
}

watchdog_fired() { [[ -e $STATE_DIR/stopping || ! -d $STATE_DIR ]]; }

# Give up on a broker being started: the watchdog leaves, the JVM goes, logs stay if asked.
abandon() {
    touch "$STATE_DIR/stopping" 2>/dev/null || true
    stop_broker KILL
    remove_state_dir
}

# ---------------------------------------------------------------- subcommands

cmd_provision() {
    provision "$(abs_path "${1:-$DEFAULT_BUILD_DIR}")"
}

cmd_start() {
    local build_dir attempt rc
    build_dir=$(abs_path "${1:-$DEFAULT_BUILD_DIR}")
    provision "$build_dir"
    LIBS="$build_dir/kafka-libs"
    choose_parent

    # Retry with new ports if another process grabbed one between free_ports and the bind.
    for attempt in 1 2 3; do
        STATE_DIR=$(mktemp -d "${TMPDIR:-/tmp}/mm-kafka.XXXXXX")
        mkdir -p "$STATE_DIR/data" "$STATE_DIR/logs"
        read -r PORT CONTROLLER_PORT < <(free_ports)
        BOOTSTRAP="127.0.0.1:$PORT"
        BROKER_PID=""
        write_config
        save_state # first, as the watchdog runs only while the state file exists
        start_watchdog
        save_state
        if ! format_storage; then
            watchdog_fired && die "parent process $PARENT_PID went away during startup; broker stopped"
            show_log_tail
            abandon
            die "formatting the storage failed"
        fi
        launch_broker
        rc=0
        wait_ready || rc=$?
        if ((rc == 0)); then
            printf '%s\n%s\n' "$BOOTSTRAP" "$STATE_DIR"
            return 0
        fi
        if ((rc == 2)) && grep -qs 'Address already in use' "$STATE_DIR/logs/server.log" "$STATE_DIR/logs/broker.out" && ((attempt < 3)); then
            say "port clash on $PORT/$CONTROLLER_PORT; retrying with new ports"
            MM_KEEP_KAFKA=0 abandon
            continue
        fi
        # the watchdog may have removed the dir under us: then the JVM's death is no news
        if ((rc == 3)) || watchdog_fired; then
            die "parent process $PARENT_PID went away during startup; broker stopped"
        fi
        show_log_tail
        if ((rc == 1)); then
            say "broker did not answer metadata within ${START_TIMEOUT}s (logs: $STATE_DIR/logs)"
        else
            say "broker exited during startup (logs: $STATE_DIR/logs)"
        fi
        abandon
        exit 1
    done
}

cmd_stop() {
    load_state "${1:-}"
    touch "$STATE_DIR/stopping" # tells the watchdog to leave
    stop_broker TERM
    remove_state_dir
}

cmd_kill() {
    load_state "${1:-}"
    stop_broker KILL
}

cmd_restart() {
    local rc=0
    load_state "${1:-}"
    [[ -e $STATE_DIR/stopping ]] && die "$STATE_DIR was stopped; use start"
    stop_broker TERM # restart of a live broker = clean stop + start
    launch_broker
    wait_ready || rc=$?
    if ((rc != 0)); then
        show_log_tail
        die "restarted broker not ready (logs: $STATE_DIR/logs)"
    fi
    printf '%s\n%s\n' "$BOOTSTRAP" "$STATE_DIR"
}

cmd_status() {
    load_state "${1:-}"
    if broker_alive "$BROKER_PID"; then
        echo "running $BOOTSTRAP $BROKER_PID"
    else
        echo "stopped $BOOTSTRAP -"
        return 1
    fi
}

cmd_tool() {
    (($# >= 2)) || usage
    local log4j
    if [[ $1 == - ]]; then
        # no broker of ours (an external cluster): the jars only, provisioned on demand
        local build_dir
        build_dir=$(abs_path "${MM_KAFKA_BUILD_DIR:-$DEFAULT_BUILD_DIR}")
        provision "$build_dir"
        LIBS="$build_dir/kafka-libs"
        STATE_DIR=$(mktemp -d "${TMPDIR:-/tmp}/mm-kafka-tool.XXXXXX") PORT=0 CONTROLLER_PORT=0
        write_config
        # the scratch dir's own copy: several tools may run at once
        log4j="$STATE_DIR/tools-log4j2.properties"
        trap 'rm -rf "$STATE_DIR"' EXIT
    else
        load_state "$1"
        log4j="$STATE_DIR/tools-log4j2.properties"
    fi
    local class=$2
    shift 2
    case $class in org.* | kafka.*) ;; *) class="org.apache.kafka.tools.$class" ;; esac
    local -a java=("$JAVA" "${TOOL_HEAP[@]}" -Djava.awt.headless=true
        -Dlog4j2.configurationFile="$log4j" -cp "$LIBS/*" "$class" "$@")
    if [[ $log4j == "$STATE_DIR/tools-log4j2.properties" && $STATE_DIR == */mm-kafka-tool.* ]]; then
        "${java[@]}" # not exec: the EXIT trap removes the scratch dir
    else
        exec "${java[@]}"
    fi
}

main() {
    local cmd=${1:-}
    (($# > 0)) && shift
    case $cmd in
    provision) cmd_provision "$@" ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    kill) cmd_kill "$@" ;;
    restart) cmd_restart "$@" ;;
    status) cmd_status "$@" ;;
    tool) cmd_tool "$@" ;;
    *) usage ;;
    esac
}

main "$@"
