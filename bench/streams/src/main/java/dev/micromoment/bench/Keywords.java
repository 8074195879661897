package dev.micromoment.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Keyword classification of a query, the way a user of Kafka Streams would write it with the
 * repository's lexicons: fold the text, find the lexicon's phrases in it (longest first), and
 * combine each moment's weights as 1 - prod(1 - weight). The best moment wins if it reaches
 * the minimum confidence.
 *
 * <p>Deliberately not a port of micromoment's classifier: no per-user state (rapid queries,
 * location bursts, carts), no context rules ("best" next to a product or a place, device
 * words weakening the rest, navigational queries), no language detection when an event has
 * no known {@code lang} (every lexicon is tried, the strongest wins). It is the stateless
 * keyword part only, with the same data and weights.
 */
final class Keywords {
    static final String[] MOMENTS = {"know", "go", "do", "buy"};
    /** The same default as micromoment's mm.min.confidence. */
    static final double MIN_CONFIDENCE = 0.25;

    /** A lexicon row: which moment it is evidence for, and how strong. */
    record Entry(String phrase, int moment, double weight) {}

    /** An affix row: its folded stem and its entry. */
    record Affix(String stem, Entry entry) {}

    /** One language's phrases, folded, plus its affix rows (compound heads and stems). */
    static final class Lexicon {
        final String lang;
        final Map<String, Entry> phrases = new HashMap<>();
        final List<Affix> prefixes = new ArrayList<>(); // "stem-": the start of a longer word
        final List<Affix> suffixes = new ArrayList<>(); // "-head": the end of a longer word
        final List<Affix> infixes = new ArrayList<>();  // "-part-": anywhere inside a word
        int maxWords = 1;

        Lexicon(String lang) {
            this.lang = lang;
        }
    }

    /** The result for one query: scores of the four moments and the phrases that matched. */
    static final class Result {
        final double[] scores = new double[4];
        final List<Entry> matched = new ArrayList<>();
        String lang;
        int best = -1;

        double confidence() {
            return best < 0 ? 0 : scores[best];
        }
    }

    private final Map<String, Lexicon> byLang = new TreeMap<>();

    /** Loads every LANG.tsv of the directory; a bad row is an error naming file and line. */
    static Keywords load(Path dir) throws IOException {
        Keywords k = new Keywords();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*.tsv")) {
            for (Path f : files) {
                String name = f.getFileName().toString();
                Lexicon lex = new Lexicon(name.substring(0, name.length() - 4));
                int lineNo = 0;
                for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) {
                    lineNo++;
                    if (line.isBlank() || line.startsWith("#"))
                        continue;
                    String[] fld = line.split("\t");
                    if (fld.length != 3)
                        throw new IOException(f + ":" + lineNo + ": expected 3 TAB-separated fields");
                    int moment = momentOf(fld[1].trim());
                    if (moment == -2)
                        throw new IOException(f + ":" + lineNo + ": unknown class " + fld[1]);
                    if (moment < 0)
                        continue; // nav, none, stop: no evidence for a moment
                    double w;
                    try {
                        w = Double.parseDouble(fld[2].trim());
                    } catch (NumberFormatException e) {
                        throw new IOException(f + ":" + lineNo + ": bad weight " + fld[2]);
                    }
                    add(lex, fld[0].trim(), moment, w);
                }
                k.byLang.put(lex.lang, lex);
            }
        }
        if (k.byLang.isEmpty())
            throw new IOException(dir + ": no *.tsv lexicon");
        return k;
    }

    /** Moment index of a lexicon class; -1 for classes that are no moment's evidence. */
    private static int momentOf(String cls) {
        switch (cls) {
        case "know": case "question": case "best": return 0;
        case "go": case "place": return 1;
        case "do": return 2;
        case "buy": case "product": case "price": return 3;
        case "nav": case "none": case "stop": return -1;
        default: return -2;
        }
    }

    private static void add(Lexicon lex, String phrase, int moment, double w) {
        boolean head = phrase.startsWith("-"), tail = phrase.endsWith("-");
        if ((head || tail) && phrase.indexOf(' ') < 0 && phrase.length() > 1) {
            Affix a = new Affix(fold(phrase.replace("-", "")), new Entry(phrase, moment, w));
            (head && tail ? lex.infixes : head ? lex.suffixes : lex.prefixes).add(a);
            return;
        }
        String key = fold(phrase);
        if (key.isEmpty())
            return;
        lex.phrases.putIfAbsent(key, new Entry(phrase, moment, w));
        lex.maxWords = Math.max(lex.maxWords, key.split(" ").length);
    }

    /**
     * Lower case, accents off (NFD without combining marks), apostrophes removed, any number
     * (digits with . or , between them) as "0", everything else that is not a letter a space.
     */
    static String fold(String s) {
        String d = Normalizer.normalize(s.toLowerCase(Locale.ROOT), Normalizer.Form.NFD);
        StringBuilder b = new StringBuilder(d.length());
        boolean space = true, number = false;
        for (int i = 0; i < d.length(); i++) {
            char c = d.charAt(i);
            if (Character.getType(c) == Character.NON_SPACING_MARK || c == '\'' || c == '\u2019')
                continue;
            if (Character.isDigit(c)) {
                if (!number)
                    b.append('0');
                number = true;
                space = false;
                continue;
            }
            if (number && (c == '.' || c == ',') && i + 1 < d.length()
                    && Character.isDigit(d.charAt(i + 1)))
                continue;
            number = false;
            if (Character.isLetter(c)) {
                b.append(c);
                space = false;
            } else if (!space) {
                b.append(' ');
                space = true;
            }
        }
        int n = b.length();
        if (n > 0 && b.charAt(n - 1) == ' ')
            b.setLength(n - 1);
        return b.toString();
    }

    /** Classifies a query with the lexicon of LANG, or with every lexicon if LANG is unknown. */
    Result classify(String query, String lang) {
        String[] words = fold(query).split(" ");
        Lexicon lex = lang == null ? null : byLang.get(lang);
        if (lex != null)
            return classify(words, lex);
        Result best = null;
        for (Lexicon l : byLang.values()) {
            Result r = classify(words, l);
            if (best == null || r.confidence() > best.confidence())
                best = r;
        }
        return best;
    }

    private static Result classify(String[] words, Lexicon lex) {
        Result r = new Result();
        r.lang = lex.lang;
        double[] miss = {1, 1, 1, 1};
        int i = 0;
        while (i < words.length) {
            // the longest phrase starting at word i
            Entry hit = null;
            int n = Math.min(lex.maxWords, words.length - i);
            for (; n >= 1; n--) {
                hit = lex.phrases.get(n == 1 ? words[i] : join(words, i, n));
                if (hit != null)
                    break;
            }
            if (hit == null) {
                hit = affix(words[i], lex);
                n = 1;
            }
            i += n;
            if (hit != null) {
                r.matched.add(hit);
                miss[hit.moment()] *= 1 - hit.weight();
            }
        }
        for (int m = 0; m < 4; m++) {
            r.scores[m] = 1 - miss[m];
            if (r.scores[m] >= MIN_CONFIDENCE && (r.best < 0 || r.scores[m] > r.scores[r.best]))
                r.best = m;
        }
        return r;
    }

    private static String join(String[] words, int from, int n) {
        StringBuilder b = new StringBuilder(words[from]);
        for (int k = from + 1; k < from + n; k++)
            b.append(' ').append(words[k]);
        return b.toString();
    }

    /** The first affix row matching a word longer than its stem. */
    private static Entry affix(String w, Lexicon lex) {
        for (Affix a : lex.prefixes)
            if (w.length() > a.stem().length() && w.startsWith(a.stem()))
                return a.entry();
        for (Affix a : lex.suffixes)
            if (w.length() > a.stem().length() && w.endsWith(a.stem()))
                return a.entry();
        for (Affix a : lex.infixes)
            if (w.length() > a.stem().length() && w.contains(a.stem()))
                return a.entry();
        return null;
    }
}
