package dev.micromoment.bench;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.processor.api.FixedKeyProcessor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorContext;
import org.apache.kafka.streams.processor.api.FixedKeyRecord;
import org.apache.kafka.streams.processor.api.RecordMetadata;

/**
 * The Kafka Streams reference of bench/run.sh: reads keyed JSON events as `micromoment gen
 * --keyed` writes them, classifies the queries with the lexicons' keywords ({@link Keywords})
 * and writes one keyed JSON moment per query with an intent, as a Kafka Streams user would.
 *
 * <p>For the bench it stops by itself once it has processed every record that was in the
 * input when it started (the input is preloaded and does not grow): each partition's end
 * offset is read before the start, the processor marks a partition done when it has handled
 * its last record, and when every partition is done the app closes Kafka Streams, which
 * commits the consumed offsets after the producer has flushed (at-least-once) or commits the
 * open transaction (exactly_once_v2). `verify` then checks, from outside, that the group's
 * committed offsets are the input's ends and that the output holds every moment.
 */
public final class MomentsApp {
    static final ObjectMapper JSON = new ObjectMapper();
    static final DateTimeFormatter LOG_TIME =
        DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);
    static final String[][] STRATEGY = {
        {"gather information", "guides, expert articles, FAQs, infographics", "long (awareness building)"},
        {"find options nearby", "local listings, maps, directions, reviews, opening hours", "minutes to hours"},
        {"learn how", "step-by-step guides, video tutorials, instructions", "during the task"},
        {"complete a transaction", "comparisons, reviews, prices, checkout", "minutes"},
    };

    private static final String USAGE = String.join("\n",
        "usage: MomentsApp COMMAND ARGS",
        "  run BOOTSTRAP APP_ID INPUT OUTPUT LEXICON_DIR [-X KEY=VALUE]...",
        "        Kafka Streams from INPUT to OUTPUT until every record present at the start is",
        "        processed; -X sets a Streams property (processing.guarantee=exactly_once_v2)",
        "  topics BOOTSTRAP PARTITIONS TOPIC...   create the topics (existing ones are kept)",
        "  warmup BOOTSTRAP   one group commit and one transaction, so that Kafka's internal",
        "        topics (__consumer_offsets, __transaction_state) exist before timed runs",
        "  verify BOOTSTRAP GROUP INPUT OUTPUT EXPECTED   GROUP's committed offsets are INPUT's",
        "        ends; OUTPUT holds EXPECTED keyed records (read_committed)",
        "  selfcheck LEXICON_DIR   classify known queries, exit 1 on a wrong answer",
        "  classify LEXICON_DIR   events from stdin (JSON lines, or KEY<TAB>JSON as gen --keyed",
        "        writes them) -> moments on stdout, as run would write them; no Kafka",
        "exit: 0 ok, 1 failure, 2 usage");

    public static void main(String[] args) {
        int rc;
        try {
            rc = dispatch(args);
        } catch (UsageException e) {
            System.err.println("MomentsApp: " + e.getMessage() + "\n" + USAGE);
            rc = 2;
        } catch (Exception e) {
            System.err.println("MomentsApp: " + e);
            rc = 1;
        }
        System.exit(rc);
    }

    static final class UsageException extends Exception {
        private static final long serialVersionUID = 1L;

        UsageException(String m) {
            super(m);
        }
    }

    private static int dispatch(String[] a) throws Exception {
        if (a.length == 0)
            throw new UsageException("no command");
        switch (a[0]) {
        case "run":
            if (a.length < 6)
                throw new UsageException("run needs 5 arguments");
            return new MomentsApp(a[1], a[2], a[3], a[4], Path.of(a[5]), extraProps(a, 6)).run();
        case "topics":
            if (a.length < 4)
                throw new UsageException("topics needs BOOTSTRAP PARTITIONS TOPIC...");
            return topics(a[1], Integer.parseInt(a[2]), List.of(a).subList(3, a.length));
        case "warmup":
            if (a.length != 2)
                throw new UsageException("warmup needs BOOTSTRAP");
            return warmup(a[1]);
        case "verify":
            if (a.length != 6)
                throw new UsageException("verify needs BOOTSTRAP GROUP INPUT OUTPUT EXPECTED");
            return verify(a[1], a[2], a[3], a[4], Long.parseLong(a[5]));
        case "classify":
            if (a.length != 2)
                throw new UsageException("classify needs LEXICON_DIR");
            return classifyStdin(Path.of(a[1]));
        case "selfcheck":
            if (a.length != 2)
                throw new UsageException("selfcheck needs LEXICON_DIR");
            return selfcheck(Path.of(a[1]));
        default:
            throw new UsageException("unknown command " + a[0]);
        }
    }

    private static Properties extraProps(String[] a, int from) throws UsageException {
        Properties p = new Properties();
        for (int i = from; i < a.length; i++) {
            if (!a[i].equals("-X") || i + 1 >= a.length || a[i + 1].indexOf('=') <= 0)
                throw new UsageException("expected -X KEY=VALUE at " + a[i]);
            String kv = a[++i];
            p.setProperty(kv.substring(0, kv.indexOf('=')), kv.substring(kv.indexOf('=') + 1));
        }
        return p;
    }

    static void log(String msg) {
        System.err.println(LOG_TIME.format(Instant.now()) + " " + msg);
    }

    // ------------------------------------------------------------------ run

    private final String bootstrap, appId, input, output;
    private final Keywords keywords;
    private final Properties extra;
    private final LongAdder records = new LongAdder(), bad = new LongAdder();
    private final LongAdder[] moments = {new LongAdder(), new LongAdder(), new LongAdder(), new LongAdder()};
    /** Offset of the last record of each input partition present at the start (-1: empty). */
    private long[] last;
    private AtomicIntegerArray done; // 1: its last record is processed (or it is empty)
    private CountDownLatch remaining;
    private final AtomicReference<Throwable> failure = new AtomicReference<>();

    MomentsApp(String bootstrap, String appId, String input, String output, Path lexicons,
               Properties extra) throws IOException {
        this.bootstrap = bootstrap;
        this.appId = appId;
        this.input = input;
        this.output = output;
        this.keywords = Keywords.load(lexicons);
        this.extra = extra;
    }

    int run() throws Exception {
        last = inputLastOffsets();
        done = new AtomicIntegerArray(last.length);
        int todo = 0;
        for (int p = 0; p < last.length; p++) {
            boolean empty = last[p] < 0;
            done.set(p, empty ? 1 : 0);
            todo += empty ? 0 : 1;
        }
        remaining = new CountDownLatch(todo);

        Path stateDir = Files.createTempDirectory("mm-streams-bench-");
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        p.putAll(extra);

        StreamsBuilder b = new StreamsBuilder();
        b.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
            .processValues(Classify::new)
            .to(output, Produced.with(Serdes.String(), Serdes.String()));

        KafkaStreams streams = new KafkaStreams(b.build(), p);
        AtomicBoolean running = new AtomicBoolean();
        streams.setUncaughtExceptionHandler(e -> {
            failure.compareAndSet(null, e);
            releaseAll();
            return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        streams.setStateListener((now, before) -> {
            if (now == KafkaStreams.State.RUNNING && running.compareAndSet(false, true))
                log("streams: assigned partitions, state RUNNING");
            if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.PENDING_ERROR) {
                failure.compareAndSet(null, new IllegalStateException("Kafka Streams state " + now));
                releaseAll();
            }
        });
        log("streams: " + p.getProperty(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, "at_least_once")
            + ", " + todo + " of " + last.length + " partitions to read");
        streams.start();
        remaining.await();
        // close() commits: at-least-once flushes the producer and then commits the offsets,
        // exactly_once_v2 commits the transaction holding the moments and the offsets.
        boolean closed = streams.close(Duration.ofSeconds(60));
        deleteTree(stateDir);
        long[] m = new long[4];
        for (int i = 0; i < 4; i++)
            m[i] = moments[i].sum();
        // micromoment's summary line, so that the bench reads both alike; bad records are
        // counted and skipped (the reference has no dead-letter topic)
        log(String.format("records %d, moments know %d go %d do %d buy %d, dead letters %d (skipped)",
                          records.sum(), m[0], m[1], m[2], m[3], bad.sum()));
        if (failure.get() != null) {
            log("streams failed: " + failure.get());
            return 1;
        }
        if (!closed) {
            log("streams did not close within 60 s");
            return 1;
        }
        return 0;
    }

    private void releaseAll() {
        while (remaining.getCount() > 0)
            remaining.countDown();
    }

    /** The processor of each task (one input partition): one event in, at most one moment out. */
    private final class Classify implements FixedKeyProcessor<String, String, String> {
        private FixedKeyProcessorContext<String, String> ctx;

        @Override
        public void init(FixedKeyProcessorContext<String, String> context) {
            ctx = context;
        }

        @Override
        public void process(FixedKeyRecord<String, String> rec) {
            RecordMetadata md = ctx.recordMetadata().orElseThrow();
            records.increment();
            String moment = momentOf(rec.value(), md, rec.timestamp());
            if (moment != null)
                ctx.forward(rec.withValue(moment));
            int part = md.partition();
            if (part < last.length && md.offset() >= last[part] && done.compareAndSet(part, 0, 1))
                remaining.countDown();
        }
    }

    /** The moment of an event as JSON, or null: not a query, no intent, or not an event. */
    String momentOf(String value, RecordMetadata md, long recordTs) {
        return momentOf(value, md.topic(), md.partition(), md.offset(), recordTs, keywords, moments, bad);
    }

    /** The same for any source (the classify command reads stdin); counts into moments and bad. */
    static String momentOf(String value, String topic, int partition, long offset, long recordTs,
                           Keywords keywords, LongAdder[] moments, LongAdder bad) {
        JsonNode ev;
        try {
            ev = value == null ? null : JSON.readTree(value);
        } catch (JsonProcessingException e) {
            ev = null;
        }
        if (ev == null || !ev.isObject() || !ev.path("user_id").isTextual() || !ev.path("type").isTextual()) {
            bad.increment();
            return null;
        }
        if (!ev.path("type").asText().equals("query") || !ev.path("query").isTextual())
            return null;
        String lang = ev.path("lang").isTextual() ? ev.get("lang").asText() : null;
        // the event's time, else the record's (as micromoment does)
        long ts = ev.path("ts").canConvertToLong() ? ev.get("ts").asLong() : recordTs;
        Keywords.Context cx = new Keywords.Context(
            ev.path("device").isTextual() ? ev.get("device").asText() : null,
            ev.path("channel").isTextual() ? ev.get("channel").asText() : null, ts,
            ev.path("tz_offset_min").canConvertToInt() ? ev.get("tz_offset_min").asInt() : null,
            ev.path("in_store").isBoolean() ? ev.get("in_store").asBoolean() : null);
        Keywords.Result r = keywords.classify(ev.get("query").asText(), lang, cx);
        if (r.best < 0)
            return null;
        moments[r.best].increment();
        return encode(ev, r, topic, partition, offset, ts);
    }

    private static String encode(JsonNode ev, Keywords.Result r, String topic, int partition,
                                 long offset, long ts) {
        String type = Keywords.MOMENTS[r.best];
        ObjectNode m = JSON.createObjectNode();
        m.put("moment_id", UUID.nameUUIDFromBytes(
            (topic + "/" + partition + "/" + offset + "/" + type)
                .getBytes(StandardCharsets.UTF_8)).toString());
        m.put("moment", type);
        m.put("confidence", round3(r.confidence()));
        ObjectNode scores = m.putObject("scores");
        for (int i = 0; i < 4; i++)
            scores.put(Keywords.MOMENTS[i], round3(r.scores[i]));
        ArrayNode signals = m.putArray("signals");
        for (Keywords.Entry e : r.matched)
            signals.addObject().put("name", "keyword").put("value", e.phrase());
        if (r.topic)
            signals.addObject().put("name", "topic");
        if (r.lang != null)
            signals.addObject().put("name", r.langInferred ? "lang_inferred" : "lang").put("value", r.lang);
        m.set("user_id", ev.get("user_id"));
        m.set("session_id", ev.get("session_id"));
        m.set("event_id", ev.get("event_id"));
        m.set("event_ts", ev.get("ts"));
        m.put("detected_ts", System.currentTimeMillis());
        boolean acts = r.best == 1 || r.best == 3;
        boolean layered = r.best == 0 && (r.scores[1] >= 0.3 || r.scores[3] >= 0.3);
        m.put("journey_stage", acts || layered ? "consideration" : "awareness");
        ObjectNode st = m.putObject("strategy");
        st.put("goal", STRATEGY[r.best][0]).put("content", STRATEGY[r.best][1]).put("horizon", STRATEGY[r.best][2]);
        ObjectNode cx = m.putObject("context");
        cx.set("device", ev.get("device"));
        cx.set("channel", ev.get("channel"));
        int hour = Keywords.localHour(new Keywords.Context(null, null, ts,
            ev.path("tz_offset_min").canConvertToInt() ? ev.get("tz_offset_min").asInt() : null, null));
        if (hour >= 0)
            cx.put("local_hour", hour);
        ObjectNode src = m.putObject("source");
        src.put("topic", topic).put("partition", partition).put("offset", offset);
        try {
            return JSON.writeValueAsString(m);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static double round3(double x) {
        return Math.round(x * 1000) / 1000.0;
    }

    /** Last offset per partition of the input (-1 where a partition holds nothing). */
    private long[] inputLastOffsets() throws ExecutionException, InterruptedException {
        try (Admin admin = admin(bootstrap)) {
            Map<TopicPartition, Long> begin = offsets(admin, input, OffsetSpec.earliest());
            Map<TopicPartition, Long> end = offsets(admin, input, OffsetSpec.latest());
            long[] out = new long[end.size()];
            for (Map.Entry<TopicPartition, Long> e : end.entrySet()) {
                int p = e.getKey().partition();
                out[p] = e.getValue() > begin.get(e.getKey()) ? e.getValue() - 1 : -1;
            }
            return out;
        }
    }

    // ------------------------------------------------------------------ helpers for run.sh

    static Admin admin(String bootstrap) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        return Admin.create(p);
    }

    static Map<TopicPartition, Long> offsets(Admin admin, String topic, OffsetSpec spec)
        throws ExecutionException, InterruptedException {
        var desc = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
        Map<TopicPartition, OffsetSpec> q = new HashMap<>();
        desc.partitions().forEach(pi -> q.put(new TopicPartition(topic, pi.partition()), spec));
        Map<TopicPartition, Long> out = new HashMap<>();
        admin.listOffsets(q).all().get().forEach((tp, r) -> out.put(tp, r.offset()));
        return out;
    }

    private static int topics(String bootstrap, int partitions, List<String> names) throws Exception {
        try (Admin admin = admin(bootstrap)) {
            List<NewTopic> nt = new ArrayList<>();
            for (String n : names)
                nt.add(new NewTopic(n, partitions, (short) 1));
            var res = admin.createTopics(nt).values();
            for (var e : res.entrySet()) {
                try {
                    e.getValue().get();
                } catch (ExecutionException ex) {
                    if (!(ex.getCause() instanceof TopicExistsException))
                        throw ex;
                }
            }
        }
        return 0;
    }

    private static int warmup(String bootstrap) throws Exception {
        String topic = "mm-bench-warmup";
        topics(bootstrap, 1, List.of(topic));
        String id = "mm-bench-warmup-" + ProcessHandle.current().pid();
        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        pp.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, id);
        try (KafkaProducer<String, String> pr =
                 new KafkaProducer<>(pp, new StringSerializer(), new StringSerializer())) {
            pr.initTransactions();
            pr.beginTransaction();
            pr.send(new ProducerRecord<>(topic, "warmup", "warmup"));
            pr.commitTransaction();
        }
        Properties cp = new Properties();
        cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        cp.put(ConsumerConfig.GROUP_ID_CONFIG, id);
        try (KafkaConsumer<String, String> c =
                 new KafkaConsumer<>(cp, new StringDeserializer(), new StringDeserializer())) {
            TopicPartition tp = new TopicPartition(topic, 0);
            c.assign(List.of(tp));
            c.commitSync(Map.of(tp, new OffsetAndMetadata(0)));
        }
        return 0;
    }

    private static int verify(String bootstrap, String group, String input, String output,
                              long expected) throws Exception {
        int rc = 0;
        try (Admin admin = admin(bootstrap)) {
            Map<TopicPartition, Long> end = offsets(admin, input, OffsetSpec.latest());
            Map<TopicPartition, OffsetAndMetadata> committed =
                admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            long lag = 0;
            for (var e : end.entrySet()) {
                OffsetAndMetadata c = committed.get(e.getKey());
                long at = c == null ? 0 : c.offset();
                if (e.getValue() > 0 && at != e.getValue())
                    lag += e.getValue() - at;
            }
            if (lag != 0) {
                System.err.printf("verify: group %s's committed offsets are %d records short of %s's end%n",
                                  group, lag, input);
                rc = 1;
            }
        }
        long[] seen = countOutput(bootstrap, output);
        if (seen[0] != expected || seen[1] != 0) {
            System.err.printf("verify: %s holds %d committed records (%d without a key), expected %d keyed%n",
                              output, seen[0], seen[1], expected);
            rc = 1;
        }
        if (rc == 0)
            System.err.printf("verify: %s committed at %s's end; %s holds the %d records%n",
                              group, input, output, expected);
        return rc;
    }

    /** Records in TOPIC a read_committed reader sees, and how many of them have no key. */
    private static long[] countOutput(String bootstrap, String topic) throws Exception {
        Properties cp = new Properties();
        cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        cp.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        cp.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "10000");
        long n = 0, keyless = 0;
        try (KafkaConsumer<String, String> c =
                 new KafkaConsumer<>(cp, new StringDeserializer(), new StringDeserializer())) {
            List<TopicPartition> parts = new ArrayList<>();
            c.partitionsFor(topic).forEach(pi -> parts.add(new TopicPartition(topic, pi.partition())));
            c.assign(parts);
            c.seekToBeginning(parts);
            Map<TopicPartition, Long> end = c.endOffsets(parts); // the last stable offsets
            long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
            while (parts.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
                if (System.nanoTime() > deadline)
                    throw new IllegalStateException("reading " + topic + " took over 120 s");
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500))) {
                    n++;
                    keyless += r.key() == null ? 1 : 0;
                }
            }
        }
        return new long[] {n, keyless};
    }

    /** The processor's work without Kafka: one moment line per event with an intent. */
    private static int classifyStdin(Path lexicons) throws IOException {
        Keywords k = Keywords.load(lexicons);
        LongAdder[] m = {new LongAdder(), new LongAdder(), new LongAdder(), new LongAdder()};
        LongAdder bad = new LongAdder();
        long n = 0;
        var in = new java.io.BufferedReader(new java.io.InputStreamReader(System.in, StandardCharsets.UTF_8), 1 << 16);
        var out = new java.io.PrintStream(new java.io.BufferedOutputStream(System.out, 1 << 16), false,
                                          StandardCharsets.UTF_8);
        for (String line; (line = in.readLine()) != null; n++) {
            int tab = line.indexOf('\t'), brace = line.indexOf('{');
            String value = tab >= 0 && (brace < 0 || tab < brace) ? line.substring(tab + 1) : line;
            String moment = momentOf(value, "stdin", 0, n, 0, k, m, bad);
            if (moment != null)
                out.println(moment);
        }
        out.flush();
        log(String.format("records %d, moments know %d go %d do %d buy %d, dead letters %d (skipped)",
                          n, m[0].sum(), m[1].sum(), m[2].sum(), m[3].sum(), bad.sum()));
        return out.checkError() ? 1 : 0;
    }

    /** Queries whose moment the rules decide on their own, one or more per kind of lexicon row;
     * a wrong answer is a broken loader or matcher. */
    private static int selfcheck(Path lexicons) throws IOException {
        Keywords k = Keywords.load(lexicons);
        String[][] cases = {
            {"how to change a bike tire", "en", "do"},          // phrase over its word ("how")
            {"coffee near me", "en", "go"},                     // go
            {"buy running shoes", "en", "buy"},                 // buy + product
            {"what is the capital of france", "en", "know"},    // know
            {"anleitung heizkörper entlüften", "de", "do"},
            {"cómo cambiar una rueda", "es", "do"},             // accents folded
            {"Anleitung Heizkorper", null, "do"},               // no hint: inferred
            {"the and of", "en", "none"},                       // stop words only
            {"facebook", "en", "none"},                         // nav: navigational
            {"nike", "en", "none"},                             // brand alone: a name
            {"chase login", "en", "none"},                      // login + a short name
            {"hello", "en", "none"},                            // chat
            {"dr.dk", null, "none"},                            // a host name
            {"alan alda", "en", "know"},                        // bare topic
            {"nearest pharmacy", "en", "go"},                   // place
            {"cheap winter jackets", "en", "buy"},              // price
            {"best pizza near me", "en", "go"},                 // best next to a place
            {"apoteket", "da", "go"},                           // affix row "apotek-"
            {"naehe apotheke", "de", "go"},                     // derived spelling of nähe
            {"how to make sourdough bread tutorail", "en", "do"}, // typo of a long row
        };
        int bad = 0;
        for (String[] c : cases) {
            Keywords.Result r = k.classify(c[0], c[1]);
            String got = r.best < 0 ? "none" : Keywords.MOMENTS[r.best];
            if (!got.equals(c[2])) {
                System.err.printf("selfcheck: \"%s\" (%s): %s, expected %s (scores %s)%n", c[0], c[1], got,
                                  c[2], java.util.Arrays.toString(r.scores));
                bad++;
            }
        }
        System.err.printf("selfcheck: %d of %d queries as expected; %s%n", cases.length - bad,
                          cases.length, k.describe());
        return bad == 0 ? 0 : 1;
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        } catch (IOException e) {
            log("could not remove " + dir + ": " + e.getMessage());
        }
    }
}
