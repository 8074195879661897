package dev.micromoment.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Keyword classification of one event, stateless, with the repository's lexicons: what a Kafka
 * Streams user would write to get micromoment's moments without micromoment's per-user state.
 *
 * <p>It reads every kind of row the lexicons hold (the format is described at the top of each
 * lexicons/LANG.tsv): the sixteen classes (know go do buy place product price best question
 * nav brand login chat none word stop), affix rows ("-head", "stem-", "-part-"), the spellings
 * the loader derives for ä ö ü æ ø å, numbers as one token, host names kept whole. A query is
 * folded (case, accents, punctuation), its phrases found (all of them, every language), the
 * language taken from the event's hint or inferred from the hits and letters, unexplained
 * words read as one-edit typos of a long row of that language, and the roles resolved against
 * the rest of the query (a question word next to a place, best next to a place / price /
 * product, a product next to a task, names only = navigational, a bare topic = know, device
 * words weakening everything). Then what the event itself says adds to that: a place-seeking
 * query from a mobile, any query on the maps channel, a place-seeking query at lunch time,
 * a product query from a device that says it is in a store.
 *
 * <p>Written from the rules as the lexicon files and the product's documentation state them,
 * so that both sides classify a query alike; the bench measures how far they agree
 * (bench/run.sh's agreement section). What it cannot do, by being stateless: moments of
 * non-query events (location bursts, carts and purchases after a buy moment) and what earlier
 * events add to a query (rapid queries, refinements, a burst, a remembered store visit).
 */
final class Keywords {
    static final String[] MOMENTS = {"know", "go", "do", "buy"};
    /** micromoment's defaults: mm.min.confidence, mm.topic.confidence. */
    static final double MIN_CONFIDENCE = 0.25;
    static final float TOPIC_CONFIDENCE = (float) 0.3;

    // the classes of a lexicon row; the first four are the moments' own indices
    static final int KNOW = 0, GO = 1, DO = 2, BUY = 3, PLACE = 4, PRODUCT = 5, PRICE = 6,
        BEST = 7, QUESTION = 8, NAV = 9, BRAND = 10, LOGIN = 11, CHAT = 12, NONE = 13, WORD = 14,
        STOP = 15;
    static final List<String> CLASSES = List.of("know", "go", "do", "buy", "place", "product",
        "price", "best", "question", "nav", "brand", "login", "chat", "none", "word", "stop");

    private static final float CROSS_LANG = 0.5f;  // a hit of another language than the query's
    private static final float NAV_SCALE = 0.1f;   // a navigational query's scores
    private static final float BEST_LAYERED = 0.8f; // best + a product: know and buy
    private static final float TYPO_WEIGHT = 0.8f; // a row found through a typo
    private static final float TASK_MIN = 0.5f;    // a task this sure makes a product its object
    private static final float TYPO_SKIP = 0.75f;  // an exact cue this sure: no typo lookups
    private static final int AFFIX_MIN = 4;        // letters of an affix row
    private static final int TYPO_MIN = 6, TYPO_MAX = 24; // letters of a typo target

    /** A lexicon row, or a spelling derived from one. */
    record Entry(int id, String phrase, int cls, float weight, int lang, int words) {}

    /** One occurrence of a pattern in a folded query: [start, end) are its letters. */
    record Hit(Entry entry, int start, int end, int pos, int len, boolean typo) {}

    /** The scores of one event, what the query is, and the rows that counted. */
    static final class Result {
        final float[] scores = new float[4];
        final List<Entry> matched = new ArrayList<>();
        String lang;
        boolean langInferred, placeSeeking, product, priceBound, navigational, topic;
        int best = -1;

        double confidence() {
            return best < 0 ? 0 : scores[best];
        }
    }

    private final List<String> langs = new ArrayList<>();
    private final List<Entry> entries = new ArrayList<>();
    /** folded pattern (" w1 w2 ", or without the space on an affix's open side) -> entries */
    private final Map<String, List<Entry>> patterns = new HashMap<>();
    private Node root = new Node();
    /** typo targets: folded word -> its entries (ids ascending), by first letter and length */
    private final Map<Long, List<TypoWord>> typoIndex = new HashMap<>();

    private static long typoKey(int first, int len) {
        return (long) first << 8 | len;
    }

    private record TypoWord(int[] cps, List<Entry> entries) {}

    // ------------------------------------------------------------------ loading

    /** Loads every LANG.tsv of the directory (in name order); a bad row is an error. */
    static Keywords load(Path dir) throws IOException {
        Keywords k = new Keywords();
        List<Path> files = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.tsv")) {
            ds.forEach(files::add);
        }
        files.sort((a, b) -> a.getFileName().toString().compareTo(b.getFileName().toString()));
        for (Path f : files) {
            String name = f.getFileName().toString();
            String lang = name.substring(0, name.length() - 4);
            if (name.startsWith(".") || !lang.matches("[a-z]{2,3}"))
                throw new IOException(f + ": file name must be <lang>.tsv, a 2 or 3 letter code");
            k.loadFile(f, lang);
        }
        if (k.langs.isEmpty())
            throw new IOException(dir + ": no *.tsv lexicon");
        k.en = k.langs.indexOf("en");
        k.letterLang = new int[LETTER_LANG.length];
        for (int r = 0; r < LETTER_LANG.length; r++)
            k.letterLang[r] = k.langs.indexOf(LETTER_LANG[r]);
        Map<String, List<Entry>> typo = new TreeMap<>();
        for (Entry e : k.entries)
            if (k.typoTarget(e) != null)
                typo.computeIfAbsent(k.typoTarget(e), w -> new ArrayList<>()).add(e);
        for (Map.Entry<String, List<Entry>> w : typo.entrySet()) {
            int[] cps = w.getKey().codePoints().toArray();
            k.typoIndex.computeIfAbsent(typoKey(cps[0], cps.length), c -> new ArrayList<>())
                .add(new TypoWord(cps, w.getValue()));
        }
        return k;
    }

    private void loadFile(Path f, String lang) throws IOException {
        int li = langs.size();
        langs.add(lang);
        int first = entries.size();
        Set<String> ofFile = new HashSet<>();
        int lineNo = 0;
        for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) {
            lineNo++;
            if (line.isBlank() || line.startsWith("#"))
                continue;
            String[] fld = line.split("\t", -1);
            if (fld.length != 3)
                throw new IOException(f + ":" + lineNo + ": expected 3 TAB-separated fields, got " + fld.length);
            int cls = CLASSES.indexOf(fld[1]);
            if (cls < 0)
                throw new IOException(f + ":" + lineNo + ": unknown class '" + fld[1] + "'");
            float w;
            try {
                double d = Double.parseDouble(fld[2]);
                if (!(d > 0 && d <= 1))
                    throw new NumberFormatException();
                w = (float) d;
            } catch (NumberFormatException e) {
                throw new IOException(f + ":" + lineNo + ": weight '" + fld[2] + "' is not a number in (0, 1]");
            }
            String why = addPhrase(li, fld[0], cls, w, false, ofFile);
            if (why != null)
                throw new IOException(f + ":" + lineNo + ": " + why);
        }
        // spellings of ä ö ü æ ø å without those letters, after every row of the file, so
        // that a row written out always wins over a derived spelling
        int end = entries.size();
        for (int i = first; i < end; i++) {
            Entry e = entries.get(i);
            for (boolean plain : new boolean[] {false, true}) {
                String v = spelling(e.phrase(), plain);
                if (v != null)
                    addPhrase(li, v, e.cls(), e.weight(), true, ofFile);
            }
        }
    }

    /** Adds one phrase; returns why it is bad, or null. A derived spelling some row already
     * has is skipped. */
    private String addPhrase(int lang, String phrase, int cls, float w, boolean variant,
                             Set<String> ofFile) {
        boolean suffix = phrase.length() > 1 && phrase.startsWith("-");
        boolean prefix = phrase.length() > 1 && phrase.endsWith("-");
        Folded fd = fold(Normalizer.normalize(phrase, Normalizer.Form.NFKC));
        String pat = fd.buf;
        if ((suffix || prefix)
                && (fd.n != 1 || utf8Len(pat, 1, pat.length() - 1) < AFFIX_MIN))
            return "affix '" + phrase + "' must be one word of at least " + AFFIX_MIN + " letters";
        if (suffix)
            pat = pat.substring(1);
        if (prefix)
            pat = pat.substring(0, pat.length() - 1);
        if (variant && (fd.n == 0 || patterns.containsKey(pat)))
            return null;
        if (fd.n == 0)
            return "phrase '" + phrase + "' has no words";
        if (!variant && !ofFile.add(pat))
            return "duplicate phrase '" + phrase + "'";
        Entry e = new Entry(entries.size(), phrase, cls, w, lang, fd.n);
        entries.add(e);
        List<Entry> of = patterns.get(pat);
        if (of == null) {
            patterns.put(pat, of = new ArrayList<>());
            root.add(pat, 0, of);
        }
        of.add(e);
        return null;
    }

    /** The folded word a typo may be read as, or null: a whole single-word row (not stop,
     * word or an affix) of 6-24 letters, letters only. */
    private String typoTarget(Entry e) {
        if (e.words() != 1 || e.cls() == STOP || e.cls() == WORD)
            return null;
        String p = e.phrase();
        if (p.length() > 1 && (p.startsWith("-") || p.endsWith("-")))
            return null;
        String w = fold(Normalizer.normalize(p, Normalizer.Form.NFKC)).buf.trim();
        int n = w.codePointCount(0, w.length());
        if (n < TYPO_MIN || n > TYPO_MAX)
            return null;
        for (int i = 0; i < w.length(); i++) {
            char c = w.charAt(i);
            if (c < 0x80 && (c < 'a' || c > 'z'))
                return null;
        }
        return w;
    }

    private static final String[][] SPELLINGS = { // letter, digraph, plain (null: the fold's)
        {"ä", "ae", null}, {"ö", "oe", null}, {"ü", "ue", null},
        {"æ", "ae", "ae"}, {"ø", "oe", "o"}, {"å", "aa", "a"},
    };

    /** The phrase with every ä ö ü æ ø å (either case) spelled out, or null if it has none. */
    static String spelling(String phrase, boolean plain) {
        StringBuilder b = new StringBuilder();
        boolean changed = false;
        for (int i = 0; i < phrase.length(); i++) {
            char c = phrase.charAt(i);
            String to = null;
            for (String[] s : SPELLINGS)
                if (c == s[0].charAt(0) || c == s[0].toUpperCase(Locale.ROOT).charAt(0)) {
                    to = plain && s[2] != null ? s[2] : s[1];
                    break;
                }
            b.append(to != null ? to : String.valueOf(c));
            changed |= to != null;
        }
        return changed ? b.toString() : null;
    }

    /** A trie of the patterns; each query position walks it as far as the text allows. */
    private static final class Node {
        char[] keys = new char[0];
        Node[] kids = new Node[0];
        List<Entry> out; // a pattern ends here: its entries
        boolean lead, trail; // its shape: a space at its start, at its end

        void add(String p, int i, List<Entry> entries) {
            if (i == p.length()) {
                out = entries;
                lead = p.charAt(0) == ' ';
                trail = p.charAt(p.length() - 1) == ' ';
                return;
            }
            char c = p.charAt(i);
            int k = Arrays.binarySearch(keys, c);
            if (k < 0) {
                k = -k - 1;
                char[] nk = new char[keys.length + 1];
                Node[] nn = new Node[kids.length + 1];
                System.arraycopy(keys, 0, nk, 0, k);
                System.arraycopy(kids, 0, nn, 0, k);
                nk[k] = c;
                nn[k] = new Node();
                System.arraycopy(keys, k, nk, k + 1, keys.length - k);
                System.arraycopy(kids, k, nn, k + 1, kids.length - k);
                keys = nk;
                kids = nn;
            }
            kids[k].add(p, i + 1, entries);
        }

        Node next(char c) {
            char[] ks = keys;
            if (ks.length <= 8) { // most nodes: a short linear scan
                for (int k = 0; k < ks.length; k++)
                    if (ks[k] == c)
                        return kids[k];
                return null;
            }
            int k = Arrays.binarySearch(ks, c);
            return k < 0 ? null : kids[k];
        }
    }

    // ------------------------------------------------------------------ the fold

    /** A folded text: " tok tok ", its tokens' [start, end) and UTF-8 sizes, and the letters
     * that tell languages apart, counted before accents go. */
    static final class Folded {
        String buf;
        int n;
        int[] start = new int[8], end = new int[8], bytes = new int[8];
        final int[] evidence = new int[EVID_COUNT];
    }

    static final int EVID_DA = 0, EVID_ET = 1, EVID_DE = 2, EVID_UMLAUT = 3, EVID_ES = 4,
        EVID_ACUTE = 5, EVID_E_ACUTE = 6, EVID_COUNT = 7;

    private static final int C_SEP = 0, C_LOWER = 1, C_UPPER = 2, C_DIGIT = 3, C_JOIN = 4,
        C_SYM = 5, C_GROUP = 6, C_OTHER = 7;

    private static int asciiClass(int c) {
        if (c >= 'a' && c <= 'z') return C_LOWER;
        if (c >= 'A' && c <= 'Z') return C_UPPER;
        if (c >= '0' && c <= '9') return C_DIGIT;
        switch (c) {
        case '\'': return C_JOIN;
        case '$': case '%': return C_SYM;
        case '.': case ',': return C_GROUP;
        default: return C_SEP;
        }
    }

    // what a non-ASCII character folds to
    private static final int K_SEP = 0, K_DROP = 1, K_KEEP = 2, K_TEXT = 3, K_SYM = 4, K_DIGIT = 5;

    private record CpFold(int kind, String text, int evidence) {}

    private static final CpFold[] BMP_FOLDS = new CpFold[0x10000]; // filled on first use
    private static final Map<Integer, CpFold> CP_FOLDS = new ConcurrentHashMap<>();

    private static final Map<Integer, String> STROKES = Map.ofEntries(
        Map.entry(0x110, "d"), Map.entry(0x111, "d"), Map.entry(0x126, "h"), Map.entry(0x127, "h"),
        Map.entry(0x131, "i"), Map.entry(0x138, "k"), Map.entry(0x13F, "l"), Map.entry(0x140, "l"),
        Map.entry(0x141, "l"), Map.entry(0x142, "l"), Map.entry(0x14A, "n"), Map.entry(0x14B, "n"),
        Map.entry(0x152, "oe"), Map.entry(0x153, "oe"), Map.entry(0x166, "t"), Map.entry(0x167, "t"));

    private static boolean apostrophe(int cp) {
        return cp == 0x2018 || cp == 0x2019 || cp == 0xB4 || cp == 0x2BC;
    }

    /** Latin-1 letters (both cases) and a few marks that lean towards a language. */
    private static int evidenceOf(int cp) {
        if (cp == 0xA1 || cp == 0xBF) return EVID_ES;
        if (cp == 0x1E9E) return EVID_DE;
        if (cp < 0xC0 || cp >= 0xFF || cp == 0xD7 || cp == 0xF7) return -1;
        switch (cp & 0x1F) {
        case 0x01: case 0x0D: case 0x13: case 0x1A: return EVID_ACUTE;   // á í ó ú
        case 0x04: case 0x16: case 0x1C: return EVID_UMLAUT;             // ä ö ü
        case 0x05: case 0x06: case 0x18: return EVID_DA;                 // å æ ø
        case 0x09: return EVID_E_ACUTE;                                  // é
        case 0x11: return EVID_ES;                                       // ñ
        case 0x15: return EVID_ET;                                       // õ
        case 0x1F: return EVID_DE;                                       // ß
        default: return -1;
        }
    }

    private static boolean defaultIgnorable(int cp) {
        return cp == 0xAD || cp == 0x34F || cp == 0x61C || cp == 0x115F || cp == 0x1160
            || cp == 0x17B4 || cp == 0x17B5 || (cp >= 0x180B && cp <= 0x180F)
            || (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E)
            || (cp >= 0x2060 && cp <= 0x206F) || cp == 0x3164 || (cp >= 0xFE00 && cp <= 0xFE0F)
            || cp == 0xFEFF || cp == 0xFFA0 || (cp >= 0xFFF0 && cp <= 0xFFF8)
            || (cp >= 0x1BCA0 && cp <= 0x1BCA3) || (cp >= 0x1D173 && cp <= 0x1D17A)
            || (cp >= 0xE0000 && cp <= 0xE0FFF);
    }

    /** Compatibility decomposition and case folding of one character, accents off (but a
     * ring over an 'a' stays å), other letters kept, digits "0", the rest a space. */
    private static CpFold foldCp(int cp) {
        int ev = evidenceOf(cp);
        if (apostrophe(cp))
            return new CpFold(K_DROP, "", ev);
        if (cp == 0xA3 || cp == 0x20AC)
            return new CpFold(K_SYM, new String(Character.toChars(cp)), ev);
        if (STROKES.containsKey(cp))
            return new CpFold(K_TEXT, STROKES.get(cp), ev);
        if (Character.getType(cp) == Character.UNASSIGNED
                || (cp >= 0xD800 && cp <= 0xDFFF))
            return new CpFold(K_SEP, "", ev);
        if (defaultIgnorable(cp))
            return new CpFold(K_DROP, "", ev);
        String d = Normalizer.normalize(new String(Character.toChars(cp)), Normalizer.Form.NFKD);
        d = d.toUpperCase(Locale.ROOT).toLowerCase(Locale.ROOT); // full case folding, nearly
        d = Normalizer.normalize(d, Normalizer.Form.NFKD);
        if (d.codePointCount(0, d.length()) == 1 && d.codePointAt(0) >= 0x80
                && Character.getType(d.codePointAt(0)) == Character.DECIMAL_DIGIT_NUMBER)
            return new CpFold(K_DIGIT, "", ev);
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < d.length(); ) {
            int u = d.codePointAt(i);
            i += Character.charCount(u);
            int t = Character.getType(u);
            if (u == 0x30A && out.length() > 0 && out.charAt(out.length() - 1) == 'a') {
                out.setCharAt(out.length() - 1, 'å');
            } else if (u < 0x80) {
                out.append(u < 0x20 ? ' ' : (char) u);
            } else if (t == Character.NON_SPACING_MARK || t == Character.COMBINING_SPACING_MARK
                       || t == Character.ENCLOSING_MARK || defaultIgnorable(u)) {
                continue;
            } else if ((t == Character.UPPERCASE_LETTER || t == Character.LOWERCASE_LETTER
                        || t == Character.TITLECASE_LETTER || t == Character.MODIFIER_LETTER
                        || t == Character.OTHER_LETTER) && !apostrophe(u)) {
                out.appendCodePoint(u);
            } else if (t == Character.DECIMAL_DIGIT_NUMBER) {
                out.append('0');
            } else if (!apostrophe(u)) {
                out.append(' ');
            }
        }
        String s = out.toString();
        if (s.isEmpty())
            return new CpFold(K_DROP, "", ev);
        if (s.isBlank())
            return new CpFold(K_SEP, "", ev);
        return new CpFold(s.equals(new String(Character.toChars(cp))) ? K_KEEP : K_TEXT, s, ev);
    }

    private static CpFold cpFold(int cp) {
        if (cp < 0x10000) {
            CpFold f = BMP_FOLDS[cp];
            if (f == null)
                BMP_FOLDS[cp] = f = foldCp(cp); // the same value whichever thread computes it
            return f;
        }
        return CP_FOLDS.computeIfAbsent(cp, Keywords::foldCp);
    }

    /** The fold's state while it writes one text. */
    private static final class Folder {
        final StringBuilder b = new StringBuilder(" ");
        final Folded f = new Folded();
        boolean inToken, inNumber;
        int tokStart;

        void put(char c) {
            if (!inToken) {
                inToken = true;
                tokStart = b.length();
            }
            b.append(c);
        }

        void put(String s) {
            for (int i = 0; i < s.length(); i++)
                put(s.charAt(i));
            inNumber = false;
        }

        void digit() {
            if (!inNumber)
                put('#');
            inNumber = true;
        }

        void end() {
            if (!inToken)
                return;
            if (f.n == f.start.length) {
                f.start = Arrays.copyOf(f.start, f.n * 2);
                f.end = Arrays.copyOf(f.end, f.n * 2);
                f.bytes = Arrays.copyOf(f.bytes, f.n * 2);
            }
            f.start[f.n] = tokStart;
            f.end[f.n] = b.length();
            f.bytes[f.n] = utf8Len(b, tokStart, b.length());
            f.n++;
            b.append(' ');
            inToken = false;
            inNumber = false;
        }

        void symbol(String s) {
            end();
            put(s);
            end();
        }

        /** One ASCII character; next is the class of what follows (for '.' and ','). */
        void ascii(char c, int next) {
            switch (asciiClass(c)) {
            case C_LOWER:
                put(c);
                inNumber = false;
                break;
            case C_UPPER:
                put((char) (c + 32));
                inNumber = false;
                break;
            case C_DIGIT:
                digit();
                break;
            case C_GROUP: // "1.000" stays one number; "dr.dk" one token
                if (inNumber && next == C_DIGIT) {
                    break;
                } else if (c == '.' && inToken && (next == C_LOWER || next == C_UPPER)) {
                    put('.');
                    inNumber = false;
                } else {
                    end();
                }
                break;
            case C_JOIN:
                break;
            case C_SYM:
                symbol(String.valueOf(c));
                break;
            default:
                end();
            }
        }
    }

    /** The class of the first folded character of s from i: what '.' and ',' look ahead at. */
    private static int leadClass(String s, int i) {
        if (i >= s.length())
            return C_SEP;
        int cp = s.codePointAt(i);
        if (cp < 0x80)
            return asciiClass(cp);
        if (cp > 0xFFFF)
            return C_SEP;
        CpFold f = cpFold(cp);
        switch (f.kind()) {
        case K_KEEP: return C_OTHER;
        case K_DIGIT: return C_DIGIT;
        case K_TEXT: return f.text().charAt(0) < 0x80 ? asciiClass(f.text().charAt(0)) : C_OTHER;
        default: return C_SEP;
        }
    }

    static Folded fold(String s) {
        Folder w = new Folder();
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            int next = i + Character.charCount(cp);
            if (cp < 0x80) {
                int cc = asciiClass(cp);
                w.ascii((char) cp, cc == C_GROUP ? leadClass(s, next) : C_SEP);
            } else {
                CpFold f = cpFold(cp);
                if (f.evidence() >= 0)
                    w.f.evidence[f.evidence()]++;
                switch (f.kind()) {
                case K_DROP:
                    break;
                case K_KEEP:
                    w.put(new String(Character.toChars(cp)));
                    break;
                case K_TEXT: {
                    String t = f.text();
                    for (int k = 0; k < t.length(); k++) {
                        char c = t.charAt(k);
                        if (c >= 0x80) {
                            w.put(c);
                            w.inNumber = false;
                            continue;
                        }
                        int nx = C_SEP;
                        if (asciiClass(c) == C_GROUP)
                            nx = k + 1 < t.length()
                                ? (t.charAt(k + 1) < 0x80 ? asciiClass(t.charAt(k + 1)) : C_OTHER)
                                : leadClass(s, next);
                        w.ascii(c, nx);
                    }
                    break;
                }
                case K_SYM:
                    w.symbol(f.text());
                    break;
                case K_DIGIT:
                    w.digit();
                    break;
                default:
                    w.end();
                }
            }
            i = next;
        }
        w.end();
        if (w.b.charAt(w.b.length() - 1) != ' ')
            w.b.append(' ');
        w.f.buf = w.b.toString();
        return w.f;
    }

    static int utf8Len(CharSequence s, int from, int to) {
        int n = 0;
        for (int i = from; i < to; i++) {
            char c = s.charAt(i);
            n += c < 0x80 ? 1 : c < 0x800 ? 2 : Character.isHighSurrogate(c) ? 2 : Character.isLowSurrogate(c) ? 2 : 3;
        }
        return n;
    }

    // ------------------------------------------------------------------ one query

    /** Every occurrence of every pattern, ordered as a left-to-right automaton reports them:
     * by the position of the last character, longer patterns first, entries in load order. */
    private List<Hit> scan(String buf) {
        List<Hit> hits = new ArrayList<>();
        for (int k = 0; k < buf.length(); k++) {
            Node n = root;
            for (int i = k; i < buf.length() && (n = n.next(buf.charAt(i))) != null; i++) {
                if (n.out == null)
                    continue;
                int len = i + 1 - k;
                for (Entry e : n.out)
                    hits.add(new Hit(e, k + (n.lead ? 1 : 0), n.trail ? i : i + 1, i, len, false));
            }
        }
        hits.sort((a, b) -> a.pos() != b.pos() ? Integer.compare(a.pos(), b.pos())
                          : a.len() != b.len() ? Integer.compare(b.len(), a.len())
                          : Integer.compare(a.entry().id(), b.entry().id()));
        return hits;
    }

    private static boolean covers(Hit h, int start, int end) {
        return h.start() < end && start < h.end();
    }

    private int hintLang(String hint) {
        if (hint == null)
            return -1;
        int n = 0;
        StringBuilder code = new StringBuilder();
        for (; n < hint.length() && hint.charAt(n) != '-' && hint.charAt(n) != '_'; n++) {
            char c = hint.charAt(n);
            if (n == 3)
                return -1;
            if (c >= 'A' && c <= 'Z')
                c = (char) (c + 32);
            if (c < 'a' || c > 'z')
                return -1;
            code.append(c);
        }
        return n >= 2 ? langs.indexOf(code.toString()) : -1;
    }

    private static final int[] LETTER_EVIDENCE = {EVID_DA, EVID_ET, EVID_DE, EVID_UMLAUT,
        EVID_UMLAUT, EVID_ES, EVID_ACUTE, EVID_E_ACUTE};
    private static final String[] LETTER_LANG = {"da", "et", "de", "de", "et", "es", "es", "es"};
    private static final float[] LETTER_POINTS = {1.5f, 2.0f, 2.0f, 0.75f, 0.75f, 2.0f, 1.0f, 0.5f};
    private int[] letterLang; // LETTER_LANG's lexicon indices (-1: none), set at load
    private int en = -1;

    /** The language with the most evidence: a point per word of each hit, and the letters
     * (at most 3 of a kind); English on a tie, else the first; -1 without evidence. */
    private int inferLang(Folded f, List<Hit> hits) {
        float[] score = new float[langs.size()];
        float total = 0;
        for (Hit h : hits) {
            score[h.entry().lang()] += h.entry().words();
            total += h.entry().words();
        }
        for (int r = 0; r < LETTER_EVIDENCE.length; r++) {
            int n = f.evidence[LETTER_EVIDENCE[r]];
            int lang = letterLang[r];
            if (n == 0 || lang < 0)
                continue;
            float pts = LETTER_POINTS[r] * (float) Math.min(n, 3);
            score[lang] += pts;
            total += pts;
        }
        if (total <= 0)
            return -1;
        int best = 0;
        for (int i = 1; i < score.length; i++)
            if (score[i] > score[best])
                best = i;
        if (en >= 0 && score[en] == score[best])
            best = en;
        return best;
    }

    private static boolean withinOneEdit(int[] a, int[] b) {
        if (a.length < b.length) {
            int[] t = a;
            a = b;
            b = t;
        }
        int la = a.length, lb = b.length;
        if (la - lb > 1)
            return false;
        int i = 0;
        while (i < lb && a[i] == b[i])
            i++;
        if (la != lb)
            return Arrays.equals(a, i + 1, la, b, i, lb);
        if (i >= la - 1)
            return true;
        if (Arrays.equals(a, i + 1, la, b, i + 1, lb))
            return true;
        return a[i] == b[i + 1] && a[i + 1] == b[i] && Arrays.equals(a, i + 2, la, b, i + 2, lb);
    }

    /** Typo hits for the words no hit covers: the one long row word of the query's language
     * (any language when it has none) one edit away, with the same first letter. */
    private void typos(Folded f, int lang, List<Hit> hits) {
        int exact = hits.size();
        for (int t = 0; t < f.n; t++) {
            int s = f.start[t], e = f.end[t];
            if (f.bytes[t] < TYPO_MIN - 1 || f.bytes[t] > 4 * TYPO_MAX)
                continue;
            boolean covered = false;
            for (int i = 0; i < exact && !covered; i++)
                covered = covers(hits.get(i), s, e);
            if (covered)
                continue;
            String w = f.buf.substring(s, e);
            boolean word = true;
            for (int i = 0; i < w.length() && word; i++)
                word = w.charAt(i) >= 0x80 || (w.charAt(i) >= 'a' && w.charAt(i) <= 'z');
            int[] cps = w.codePoints().toArray();
            if (!word || cps.length > TYPO_MAX || cps.length < TYPO_MIN - 1)
                continue;
            TypoWord found = null;
            boolean ambiguous = false;
            for (int len = cps.length - 1; len <= cps.length + 1 && !ambiguous; len++) {
                for (TypoWord tw : typoIndex.getOrDefault(typoKey(cps[0], len), List.of())) {
                    if (!withinOneEdit(cps, tw.cps()))
                        continue;
                    boolean inLang = lang < 0;
                    for (Entry en : tw.entries())
                        inLang |= en.lang() == lang;
                    if (!inLang)
                        continue;
                    if (found != null) {
                        ambiguous = true;
                        break;
                    }
                    found = tw;
                }
            }
            if (found == null || ambiguous)
                continue;
            for (Entry en : found.entries())
                if (lang < 0 || en.lang() == lang)
                    hits.add(new Hit(en, s, e, e, e - s, true));
        }
    }

    /** Which hits count: none inside a longer one; of hits with one span (they come
     * together), the query language's, else the heaviest. */
    private static boolean[] select(List<Hit> hits, int lang) {
        int n = hits.size();
        boolean[] keep = new boolean[n];
        for (int i = 0; i < n; i++) {
            Hit h = hits.get(i);
            keep[i] = true;
            for (int j = 0; j < n && keep[i]; j++) {
                Hit o = hits.get(j);
                boolean contains = o.start() <= h.start() && h.end() <= o.end();
                boolean same = o.start() == h.start() && o.end() == h.end();
                if (contains && !same)
                    keep[i] = false;
            }
        }
        for (int i = 0; i < n; ) {
            int k = i + 1;
            while (k < n && hits.get(k).start() == hits.get(i).start()
                   && hits.get(k).end() == hits.get(i).end())
                k++;
            if (keep[i] && k > i + 1) {
                int pick = i;
                for (int j = i; j < k; j++) {
                    Entry e = hits.get(j).entry(), p = hits.get(pick).entry();
                    boolean eOwn = e.lang() == lang, pOwn = p.lang() == lang;
                    if ((eOwn && !pOwn) || (eOwn == pOwn && e.weight() > p.weight()))
                        pick = j;
                }
                for (int j = i; j < k; j++)
                    keep[j] = j == pick;
            }
            i = k;
        }
        return keep;
    }

    private static boolean isHost(String buf, int s, int e) {
        int dot = buf.lastIndexOf('.', e - 1);
        if (dot < s)
            return false;
        dot++; // first letter of the top-level domain
        if (dot <= s + 1 || e - dot < 2)
            return false;
        for (int i = dot; i < e; i++)
            if (buf.charAt(i) < 'a' || buf.charAt(i) > 'z')
                return false;
        return true;
    }

    private static float topMiss(float[] miss) {
        float m = miss[0];
        for (int k = 1; k < 4; k++)
            m = Math.min(m, miss[k]);
        return m;
    }

    /** The text side: scores of the four moments for one query. */
    Result analyze(String query, String langHint) {
        Result r = new Result();
        Folded f = fold(query == null ? "" : query);
        List<Hit> hits = scan(f.buf);
        int lang = hintLang(langHint);
        boolean hinted = lang >= 0;
        if (!hinted)
            lang = inferLang(f, hits);
        int exact = hits.size();
        boolean strong = false;
        for (Hit h : hits) {
            int c = h.entry().cls();
            strong |= (c == KNOW || c == GO || c == DO || c == BUY || c == PLACE || c == PRICE)
                      && h.entry().weight() >= TYPO_SKIP;
        }
        if (!strong)
            typos(f, lang, hits);
        if (!hinted && lang < 0 && hits.size() > exact)
            lang = inferLang(f, hits);
        r.langInferred = !hinted && lang >= 0;
        r.lang = lang >= 0 ? langs.get(lang) : null;

        boolean[] keep = select(hits, lang);
        float[] miss = {1f, 1f, 1f, 1f};
        float productMiss = 1f, questionMiss = 1f, noneMiss = 1f, best = 0f;
        for (int i = 0; i < hits.size(); i++) {
            if (!keep[i])
                continue;
            Hit h = hits.get(i);
            Entry e = h.entry();
            float w = e.weight() * (lang < 0 || e.lang() == lang ? 1.0f : CROSS_LANG)
                      * (h.typo() ? TYPO_WEIGHT : 1.0f);
            switch (e.cls()) {
            case KNOW: case DO: case BUY:
                miss[e.cls()] *= 1.0f - w;
                break;
            case GO: case PLACE:
                miss[GO] *= 1.0f - w;
                r.placeSeeking = true;
                break;
            case PRODUCT: case BRAND:
                productMiss *= 1.0f - w;
                r.product = true;
                break;
            case PRICE:
                miss[BUY] *= 1.0f - w;
                r.priceBound = true;
                break;
            case QUESTION:
                questionMiss *= 1.0f - w;
                break;
            case BEST:
                best = 1.0f - (1.0f - best) * (1.0f - w);
                break;
            case NONE:
                noneMiss *= 1.0f - w;
                break;
            default: // nav, login, chat, word, stop: no moment's evidence
            }
            if (e.cls() != STOP && e.cls() != WORD && e.cls() != CHAT)
                r.matched.add(e);
        }
        if (!r.placeSeeking)
            miss[KNOW] *= questionMiss; // "where is the station" asks for the place
        if (best > 0f) {
            if (r.placeSeeking) {
                miss[GO] *= 1.0f - best;
            } else if (r.priceBound) {
                miss[BUY] *= 1.0f - best;
            } else if (r.product) {
                miss[KNOW] *= 1.0f - best * BEST_LAYERED;
                miss[BUY] *= 1.0f - best * BEST_LAYERED;
            } else {
                int k = GO;
                for (int j = DO; j < 4; j++)
                    if (miss[j] < miss[k])
                        k = j;
                miss[miss[k] < 1.0f ? k : KNOW] *= 1.0f - best;
            }
        }
        // what the words are: names, function words, words no row explains (a bare topic)
        boolean allNames = f.n > 0, anyName = false, login = false;
        int nTopic = 0, nTopicLong = 0;
        for (int t = 0; t < f.n; t++) {
            int s = f.start[t], e = f.end[t];
            boolean function = false, name = false, none = false, cue = false;
            for (Hit h : hits) {
                if (!covers(h, s, e))
                    continue;
                int c = h.entry().cls();
                function |= c == STOP || c == QUESTION;
                boolean nameCls = c == NAV || c == BRAND || c == LOGIN || c == CHAT;
                name |= nameCls;
                none |= c == NONE;
                cue |= !nameCls && c != NONE && c != STOP && c != WORD;
                login |= c == LOGIN;
            }
            name = name || isHost(f.buf, s, e);
            anyName |= name;
            allNames &= (name || function) && !cue;
            if (!function && !name && !none && hasLetter(f.buf, s, e, f.bytes[t])) {
                nTopic++;
                nTopicLong += f.bytes[t] >= 4 ? 1 : 0;
            }
        }
        r.navigational = (allNames && anyName) || (login && nTopic <= 2 && topMiss(miss) == 1.0f);
        // a product is the object of a clear task, else evidence to buy
        float taskMiss = 1.0f - TASK_MIN;
        boolean task = miss[KNOW] <= taskMiss || miss[GO] <= taskMiss || miss[DO] <= taskMiss;
        if (!task || miss[BUY] < 1.0f)
            miss[BUY] *= productMiss;
        boolean bareTopic = nTopicLong > 0 || nTopic > 1;
        if (!r.navigational && bareTopic && 1.0f - topMiss(miss) < TOPIC_CONFIDENCE) {
            miss[KNOW] = 1.0f - TOPIC_CONFIDENCE;
            r.topic = true;
        }
        float scale = noneMiss * (r.navigational ? NAV_SCALE : 1.0f);
        for (int k = 0; k < 4; k++)
            r.scores[k] = (1.0f - miss[k]) * scale;
        return r;
    }

    private static boolean hasLetter(String buf, int s, int e, int bytes) {
        if (bytes < 2)
            return false;
        for (int i = s; i < e; i++) {
            char c = buf.charAt(i);
            if (c >= 0x80 || (c >= 'a' && c <= 'z'))
                return true;
        }
        return false;
    }

    /** What a query event's own fields say (no state): device, channel, local hour,
     * in_store. tsMs <= 0 or tzMin null: no local hour. */
    record Context(String device, String channel, long tsMs, Integer tzMin, Boolean inStore) {}

    /** One query event: the text side, then its context, then the decision. */
    Result classify(String query, String langHint, Context cx) {
        Result r = analyze(query, langHint);
        float go = 0f, buy = 0f;
        if (cx != null) {
            if (Boolean.TRUE.equals(cx.inStore()) && r.product)
                buy += 0.8f;
            if (r.placeSeeking && "mobile".equalsIgnoreCase(cx.device()))
                go += 0.1f;
            if ("maps".equalsIgnoreCase(cx.channel()))
                go += 0.25f;
            int hour = localHour(cx);
            if (r.placeSeeking && hour >= 11 && hour <= 13)
                go += 0.15f;
        }
        r.scores[GO] = clip(r.scores[GO] + go);
        r.scores[BUY] = clip(r.scores[BUY] + buy);
        r.scores[KNOW] = clip(r.scores[KNOW]);
        r.scores[DO] = clip(r.scores[DO]);
        int b = 0;
        for (int k = 1; k < 4; k++)
            if (r.scores[k] > r.scores[b])
                b = k;
        r.best = r.scores[b] > 0f && (double) r.scores[b] >= MIN_CONFIDENCE ? b : -1;
        return r;
    }

    /** The text alone (no context), as selfcheck asks. */
    Result classify(String query, String langHint) {
        return classify(query, langHint, null);
    }

    private static float clip(float v) {
        return v < 0f ? 0f : v > 1f ? 1f : v;
    }

    static int localHour(Context cx) {
        if (cx.tzMin() == null || cx.tzMin() < -16 * 60 || cx.tzMin() > 16 * 60 || cx.tsMs() <= 0)
            return -1;
        long local = cx.tsMs() + cx.tzMin() * 60_000L;
        long day = 24 * 3_600_000L;
        return (int) (Math.floorMod(local, day) / 3_600_000L);
    }

    /** Rows and languages loaded (for messages). */
    String describe() {
        int[] byCls = new int[CLASSES.size()];
        for (Entry e : entries)
            byCls[e.cls()]++;
        StringBuilder b = new StringBuilder(entries.size() + " rows and spellings of " + langs + ":");
        for (int c = 0; c < byCls.length; c++)
            b.append(' ').append(CLASSES.get(c)).append(' ').append(byCls[c]);
        return b.toString();
    }
}
