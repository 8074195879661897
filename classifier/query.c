/*
 * What the text of one query says: lexical scores for all four moments.
 *
 * HOW A QUERY IS SCORED
 *   1. Fold the text (matcher.h: NFKC case folding, accents, digits) into
 *      a stack buffer and scan it once with the automaton of every lexicon:
 *      all hits, all languages.
 *   2. Language: the event's hint when a lexicon has it, else lang.c infers
 *      one from the hits and the letters. Then words that no hit explains
 *      are looked up as typos of the language's rows (typo.c: one edit,
 *      bounded); such a hit counts at MM__TYPO_WEIGHT.
 *   3. Keep the hits that count. A hit inside a longer hit is dropped, which
 *      is how phrases refine their words: "how to" (do) hides "how"
 *      (question: know), "how does" (know) hides "how" too, "in der nähe"
 *      hides "in". Where one span is a phrase of several languages, the
 *      query's language wins, else the heavier row. A hit from another
 *      language than the query's counts half (MM__CROSS_LANG): loanwords
 *      help, false friends hurt less.
 *   4. Evidence per moment combines as a noisy-OR, 1 - prod(1 - w): each row
 *      is an independent chance that the query has that intent, so two weak
 *      hints make a stronger one, and no sum exceeds 1.
 *      Roles resolve against the rest of the query:
 *        place    -> go, place-seeking        price    -> buy, price-bound
 *        question -> know, unless a place is named ("dónde está la
 *                    estación" asks for the place)
 *        product, brand -> buy, unless a clear task (know, go or do of at
 *                    least MM__TASK_MIN) is asked about the product: "how
 *                    to change a bike tyre" is do, not buy; with a buying
 *                    cue it votes again ("cheap bike")
 *        best     -> go when place-seeking ("best italian restaurant"),
 *                    else buy when price-bound ("best x under 200"),
 *                    else know AND buy when a product is named (layered:
 *                    "best running shoes for wide feet"), else the
 *                    strongest of go/do/buy already there ("best recipe"
 *                    is do), else know ("best movies of 2023").
 *   5. Names: a query made only of names (`nav`, `brand`, `login`, `chat`
 *      rows and host names: "dr.dk", "www.google.com", the fold keeps one
 *      as a single token) and function words is navigational ("facebook",
 *      "nike", "hola"), and so is a login word with a name of at most two
 *      words and no other cue ("chase login"): every score is scaled down
 *      to MM__NAV_SCALE so it yields no moment.
 *   6. Bare topic: a query with words that no row explains (not names,
 *      numbers or function words; one of four bytes or more, or two), and
 *      no moment as strong as mm.topic.confidence, is someone wanting to
 *      know about that topic ("alan alda"): know at exactly that score, the
 *      weakest moment there is, with the signal "topic".
 *   7. `none` rows (device commands: alarm, lights, volume) scale every
 *      moment by (1 - w).
 *   8. Terms: hashes of content words (not function or question words), for
 *      refinement detection downstream. Signals: each kept keyword (value and
 *      lang point into the lexicon, which outlives moments) and the language.
 *
 * COST: one fold pass and one automaton pass over at most MM_FOLD_MAX bytes;
 * the typo lookups of the unexplained words (typo.c); then work on the hits,
 * at most MM__HITS_MAX (hits past that are ignored: only a pathological
 * query has that many). No allocation.
 */
#include <string.h>

#include "lexicon_int.h"

#define MM__HITS_MAX 64
#define MM__CROSS_LANG 0.5f
#define MM__NAV_SCALE 0.1f
#define MM__BEST_LAYERED 0.8f /* best + product: share for know and buy */
#define MM__TYPO_WEIGHT 0.8f  /* a row found through a typo (typo.c) */
#define MM__TASK_MIN 0.5f     /* a task this sure makes a product its object */
#define MM__TYPO_SKIP 0.75f   /* a cue this sure: no typo lookups */

typedef struct evidence_s {
    float miss[MM_MOMENT__COUNT]; /* prod(1 - w) per moment */
    float product_miss;           /* product rows, held apart: see step 4 */
    float question_miss;          /* question words, held apart: see step 4 */
    float none_miss;
    float best;
} evidence_t;

static void add(evidence_t *ev, mm_moment_type_t type, float w) {
    ev->miss[type] *= 1.0f - w;
}

/* The smallest miss: 1 - the strongest moment's evidence. */
static float top_miss(const evidence_t *ev) {
    float m = ev->miss[0];
    for (int k = 1; k < MM_MOMENT__COUNT; k++)
        m = ev->miss[k] < m ? ev->miss[k] : m;
    return m;
}

/* A product names the object of the query. It is evidence to buy when
 * nothing else is asked ("running shoes"), or when buying is asked too
 * ("cheap running shoes"); next to a clear task (know, go or do at
 * MM__TASK_MIN or more) it is what the task is about ("how to change a
 * bike tyre", "bike shop near me") and does not vote. */
static void add_product(evidence_t *ev) {
    float task_miss = 1.0f - MM__TASK_MIN;
    bool task = ev->miss[MM_MOMENT_KNOW] <= task_miss || ev->miss[MM_MOMENT_GO] <= task_miss ||
                ev->miss[MM_MOMENT_DO] <= task_miss;
    if (!task || ev->miss[MM_MOMENT_BUY] < 1.0f)
        ev->miss[MM_MOMENT_BUY] *= ev->product_miss;
}

/* Whether an exact hit already says what the query wants, strongly
 * (MM__TYPO_SKIP or more): then a typo elsewhere cannot change the moment
 * much and its lookups, most of the typo cost, are skipped ("resturants
 * near me" is go by "near me" alone). */
static bool has_strong_cue(const mm_lexicon_t *lex, const mm_match_t *hits, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const mm_lex_entry_t *e = &lex->entries[hits[i].id];
        bool cue = e->cls == MM_LEX_KNOW || e->cls == MM_LEX_GO || e->cls == MM_LEX_DO ||
                   e->cls == MM_LEX_BUY || e->cls == MM_LEX_PLACE || e->cls == MM_LEX_PRICE;
        if (cue && e->weight >= MM__TYPO_SKIP)
            return true;
    }
    return false;
}

/* Hint "da", "DA", "da-DK", "da_DK" -> a lexicon language, or -1. */
static int hint_lang(const mm_lexicon_t *lex, mm_str_t hint) {
    char code[4];
    size_t n = 0;
    if (!hint.p)
        return -1;
    for (; n < hint.len && hint.p[n] != '-' && hint.p[n] != '_'; n++) {
        char c = hint.p[n];
        if (n == 3)
            return -1;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        if (c < 'a' || c > 'z')
            return -1;
        code[n] = c;
    }
    return n >= 2 ? mm__lexicon_lang_index(lex, code, n) : -1;
}

/* Marks hits to keep: not inside a longer hit, one entry per span. */
static void select_hits(const mm_lexicon_t *lex, const mm_match_t *hits,
                        size_t n, int lang, bool *keep) {
    for (size_t i = 0; i < n; i++) {
        keep[i] = true;
        for (size_t j = 0; j < n && keep[i]; j++) {
            bool contains = hits[j].start <= hits[i].start &&
                            hits[i].end <= hits[j].end;
            bool same = hits[j].start == hits[i].start && hits[j].end == hits[i].end;
            if (contains && !same)
                keep[i] = false;
        }
    }
    /* Entries of one span come together (one automaton state). */
    for (size_t i = 0; i < n;) {
        size_t k = i + 1;
        while (k < n && hits[k].start == hits[i].start && hits[k].end == hits[i].end)
            k++;
        if (keep[i] && k > i + 1) {
            size_t pick = i;
            for (size_t j = i; j < k; j++) {
                const mm_lex_entry_t *e = &lex->entries[hits[j].id];
                const mm_lex_entry_t *p = &lex->entries[hits[pick].id];
                bool e_own = (int)e->lang == lang, p_own = (int)p->lang == lang;
                if ((e_own && !p_own) || (e_own == p_own && e->weight > p->weight))
                    pick = j;
            }
            for (size_t j = i; j < k; j++)
                keep[j] = j == pick;
        }
        i = k;
    }
}

/* A host name ("dr.dk", "www.google.com"; the fold keeps it one token):
 * a '.' followed by at least two letters, the top-level domain. */
static bool is_host(const mm_fold_t *fold, const mm_fold_token_t *tok) {
    const char *b = fold->buf;
    /* Most tokens have no '.': one memchr says so. */
    if (!memchr(b + tok->start, '.', (size_t)(tok->end - tok->start)))
        return false;
    uint16_t dot = tok->end;
    while (dot > tok->start && b[dot - 1] != '.')
        dot--;
    if (dot <= tok->start + 1 || tok->end - dot < 2)
        return false;
    for (uint16_t i = dot; i < tok->end; i++)
        if (b[i] < 'a' || b[i] > 'z')
            return false;
    return true;
}

/* What the words of a query are, beyond the hits. */
typedef struct words_s {
    bool only_names;   /* every word a site, brand, login word, host name or
                          function word, and at least one name */
    bool login;        /* a login row ("sign in", "homepage") */
    uint32_t n_topic;  /* words no row explains: what a bare topic is made of */
    uint32_t n_topic_long; /* ... of them, four bytes or longer */
} words_t;

/* A token with a letter in it, longer than one byte: a word, not a number,
 * a symbol or an initial. */
static bool has_letter(const mm_fold_t *fold, const mm_fold_token_t *tok) {
    if (tok->end - tok->start < 2)
        return false;
    for (uint16_t i = tok->start; i < tok->end; i++) {
        uint8_t b = (uint8_t)fold->buf[i];
        if (b >= 0x80 || (b >= 'a' && b <= 'z'))
            return true;
    }
    return false;
}

/* Content words' hashes (into out), and what the words are (w): names
 * (nav, brand, login rows, host names), function words, and topic words:
 * no row covers them, or only rows of a moment (a product, a place,
 * "weather" are topics too), and they are not numbers. */
static void read_words(const mm_lexicon_t *lex, const mm_fold_t *fold,
                       const mm_match_t *hits, size_t n_hits,
                       mm_query_analysis_t *out, words_t *w) {
    bool all_names = fold->n_tokens > 0, any_name = false;
    memset(w, 0, sizeof(*w));
    for (uint16_t t = 0; t < fold->n_tokens; t++) {
        const mm_fold_token_t *tok = &fold->tokens[t];
        bool function = false, name = false, none = false, cue = false;
        for (size_t i = 0; i < n_hits; i++) {
            uint8_t cls = lex->entries[hits[i].id].cls;
            if (!mm__match_covers(&hits[i], tok))
                continue;
            function |= cls == MM_LEX_STOP || cls == MM_LEX_QUESTION;
            bool name_cls = cls == MM_LEX_NAV || cls == MM_LEX_BRAND || cls == MM_LEX_LOGIN ||
                            cls == MM_LEX_CHAT;
            name |= name_cls;
            none |= cls == MM_LEX_NONE;
            /* a moment's row or a question: "wo ist ikea" asks something */
            cue |= !name_cls && cls != MM_LEX_NONE && cls != MM_LEX_STOP &&
                   cls != MM_LEX_WORD;
            w->login |= cls == MM_LEX_LOGIN;
        }
        name = name || is_host(fold, tok);
        any_name |= name;
        all_names &= (name || function) && !cue;
        if (!function && !name && !none && has_letter(fold, tok)) {
            w->n_topic++;
            w->n_topic_long += tok->end - tok->start >= 4;
        }
        if (function || out->n_terms == MM_QUERY_TERMS_MAX)
            continue;
        bool seen = false;
        for (uint32_t k = 0; k < out->n_terms; k++)
            seen |= out->term_hashes[k] == tok->hash;
        if (!seen)
            out->term_hashes[out->n_terms++] = tok->hash;
    }
    w->only_names = all_names && any_name;
}

static void add_signal(mm_query_analysis_t *out, const char *name, mm_str_t value,
                       const char *lang) {
    if (out->n_signals == MM_QUERY_SIGNALS_MAX)
        return;
    mm_signal_t *s = &out->signals[out->n_signals++];
    memset(s, 0, sizeof(*s));
    s->name = name;
    s->value = value;
    s->lang = lang;
}

void mm__query_analyze(const mm_rules_t *rules, mm_str_t query,
                       mm_str_t lang_hint, mm_query_analysis_t *out) {
    const mm_lexicon_t *lex = rules->lexicon;
    mm_fold_t fold;
    mm_match_t hits[MM__HITS_MAX];
    bool keep[MM__HITS_MAX];

    memset(out, 0, sizeof(*out));
    mm__fold(lex->fold_map, query.p, query.p ? query.len : 0, &fold);
    size_t n = mm__matcher_scan(lex->matcher, fold.buf, fold.len, hits, MM__HITS_MAX);
    if (n > MM__HITS_MAX)
        n = MM__HITS_MAX;

    /* The language first, from exact hits, so that a typo is looked for
     * among the words of the query's language only. */
    int lang = hint_lang(lex, lang_hint);
    float lang_conf = 1.0f;
    bool hinted = lang >= 0;
    if (!hinted)
        lang = mm__lang_infer(lex, &fold, hits, n, &lang_conf);
    size_t n_exact = n;
    if (!has_strong_cue(lex, hits, n))
        n = mm__typo_scan(lex, &fold, lang, hits, n, MM__HITS_MAX);
    if (!hinted && lang < 0 && n > n_exact)
        lang = mm__lang_infer(lex, &fold, hits, n, &lang_conf);
    out->lang_inferred = !hinted && lang >= 0;
    out->lang = lang >= 0 ? lex->langs[lang] : NULL;

    select_hits(lex, hits, n, lang, keep);
    evidence_t ev = {.miss = {1.0f, 1.0f, 1.0f, 1.0f}, .product_miss = 1.0f,
                     .question_miss = 1.0f, .none_miss = 1.0f};
    for (size_t i = 0; i < n; i++) {
        if (!keep[i])
            continue;
        const mm_lex_entry_t *e = &lex->entries[hits[i].id];
        float w = e->weight * (lang < 0 || (int)e->lang == lang ? 1.0f : MM__CROSS_LANG) *
                  (hits[i].edits ? MM__TYPO_WEIGHT : 1.0f);
        switch ((mm_lex_class_t)e->cls) {
        case MM_LEX_KNOW:
        case MM_LEX_DO:
        case MM_LEX_BUY:
            add(&ev, (mm_moment_type_t)e->cls, w);
            break;
        case MM_LEX_GO:
        case MM_LEX_PLACE:
            add(&ev, MM_MOMENT_GO, w);
            out->place_seeking = true;
            break;
        case MM_LEX_PRODUCT:
        case MM_LEX_BRAND:
            ev.product_miss *= 1.0f - w;
            out->product = true;
            break;
        case MM_LEX_PRICE:
            add(&ev, MM_MOMENT_BUY, w);
            out->price_bound = true;
            break;
        case MM_LEX_QUESTION:
            ev.question_miss *= 1.0f - w;
            break;
        case MM_LEX_BEST:
            ev.best = 1.0f - (1.0f - ev.best) * (1.0f - w);
            break;
        case MM_LEX_NONE:
            ev.none_miss *= 1.0f - w;
            break;
        case MM_LEX_NAV:
        case MM_LEX_LOGIN:
        case MM_LEX_CHAT:
        case MM_LEX_WORD:
        case MM_LEX_STOP:
        case MM_LEX__COUNT:
            break;
        }
        if (e->cls != MM_LEX_STOP && e->cls != MM_LEX_WORD && e->cls != MM_LEX_CHAT)
            add_signal(out, hits[i].edits ? "keyword_typo" : "keyword",
                       (mm_str_t){e->phrase, e->phrase_len},
                       lex->langs[e->lang]);
    }
    /* A bare question word asks about a place when a place is named
     * ("dónde está la estación"): it is no evidence to know then. */
    if (!out->place_seeking)
        ev.miss[MM_MOMENT_KNOW] *= ev.question_miss;
    if (ev.best > 0.0f) {
        if (out->place_seeking) {
            add(&ev, MM_MOMENT_GO, ev.best);
        } else if (out->price_bound) {
            add(&ev, MM_MOMENT_BUY, ev.best);
        } else if (out->product) {
            add(&ev, MM_MOMENT_KNOW, ev.best * MM__BEST_LAYERED);
            add(&ev, MM_MOMENT_BUY, ev.best * MM__BEST_LAYERED);
        } else {
            /* "best recipe for tacos" is do, "best deal on x" buy: best
             * sides with the strongest other moment; alone it is know. */
            int k = MM_MOMENT_GO;
            for (int j = MM_MOMENT_DO; j < MM_MOMENT__COUNT; j++)
                if (ev.miss[j] < ev.miss[k])
                    k = j;
            add(&ev, ev.miss[k] < 1.0f ? (mm_moment_type_t)k : MM_MOMENT_KNOW, ev.best);
        }
    }
    words_t words;
    read_words(lex, &fold, hits, n, out, &words);
    /* Navigational: names only ("facebook", "dr.dk", "nike"), or a login
     * word with a short name and nothing asked ("chase login"). */
    out->navigational = words.only_names ||
                        (words.login && words.n_topic <= 2 && top_miss(&ev) == 1.0f);
    add_product(&ev);
    float topic = (float)rules->conf.topic_confidence;
    bool bare_topic = words.n_topic_long > 0 || words.n_topic > 1;
    if (!out->navigational && bare_topic && 1.0f - top_miss(&ev) < topic) {
        ev.miss[MM_MOMENT_KNOW] = 1.0f - topic;
        add_signal(out, "topic", (mm_str_t){0}, NULL);
    }
    float scale = ev.none_miss * (out->navigational ? MM__NAV_SCALE : 1.0f);
    for (int k = 0; k < MM_MOMENT__COUNT; k++)
        out->scores[k] = (1.0f - ev.miss[k]) * scale;

    if (out->lang) {
        /* The last slot is kept for the language when keywords filled it. */
        if (out->n_signals == MM_QUERY_SIGNALS_MAX)
            out->n_signals--;
        add_signal(out, out->lang_inferred ? "lang_inferred" : "lang",
                   (mm_str_t){out->lang, strlen(out->lang)}, NULL);
        if (out->lang_inferred) {
            out->signals[out->n_signals - 1].number = lang_conf;
            out->signals[out->n_signals - 1].has_number = true;
        }
    }
}

bool mm__query_decide(const mm_rules_t *rules, const mm_query_analysis_t *qa,
                      mm_moment_type_t *type, float *confidence) {
    int best = 0;
    for (int k = 1; k < MM_MOMENT__COUNT; k++)
        if (qa->scores[k] > qa->scores[best])
            best = k;
    *type = (mm_moment_type_t)best;
    *confidence = qa->scores[best];
    return qa->scores[best] > 0.0f &&
           (double)qa->scores[best] >= rules->conf.min_confidence;
}
