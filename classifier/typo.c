/*
 * Bounded typo tolerance: a query word that no lexicon phrase matched may
 * still be a lexicon word mistyped ("recipie", "tutorail", "facebok").
 *
 * THE BOUND
 *   One edit (a letter inserted, deleted, replaced, or two neighbours
 *   swapped: optimal string alignment distance 1), only towards single-word
 *   lexicon rows of at least MM_TYPO_MIN_LETTERS (6) letters (code points)
 *   of the query's language, only when the first letters agree and exactly
 *   one row word is that close. Each limit was measured on the development
 *   data (MASSIVE, the dev sets): with five-letter rows, other rows' language
 *   or a different first letter, most "corrections" were other real words
 *   (pride/price, shows/shoes, bridge/fridge, Spanish cuarto/cuánto).
 *   Function words (`stop`), plain words (`word`) and affixes are not
 *   targets. A word two edits off ("restaraunt") is not found: going to
 *   two would multiply the lookups per word by its length. A corrected hit
 *   counts at 0.8 of its row's weight (query.c) and is reported as the
 *   signal "keyword_typo".
 *
 * HOW (symmetric deletion, all of it precomputed at load)
 *   Two words are within one edit only if deleting at most one letter from
 *   each gives the same string. At load, every target word and each of its
 *   one-letter deletions is hashed into a table (key -> the words that give
 *   it). A query word of n letters looks up its own hash and its n
 *   deletions: n + 1 probes, each first tested against a 32 KB bit filter
 *   that rejects almost every miss without touching the table. Candidates
 *   are then checked for distance <= 1 exactly (hashes are only a filter).
 *   Deletion hashes cost O(1) each: a polynomial hash is cut from prefix
 *   and suffix hashes. Only words that no hit covers are looked up, so a
 *   query made of lexicon words costs nothing more.
 *
 * COST (measured, bench/README.md): words of 4..MM_TYPO_MAX_LETTERS letters
 * that no hit covers; per such word about n + 1 filter probes. No
 * allocation on the match path.
 */
#include <stdlib.h>
#include <string.h>

#include "lexicon_int.h"

#define MM__TYPO_FILTER_BITS (1u << 18) /* 32 KB */
#define MM__HASH_BASE 0x100000001b3ULL

typedef struct typo_word_s {
    uint32_t off;        /* folded bytes in the pool */
    uint32_t first;      /* entry ids in word_entries */
    uint16_t n_entries;
    uint8_t len;         /* bytes */
    uint8_t n_cps;       /* code points */
} typo_word_t;

typedef struct typo_slot_s {
    uint64_t key; /* 0: empty */
    uint32_t first; /* word indices in postings */
    uint32_t count;
} typo_slot_t;

/* A (word bytes, entry) pair collected while the lexicon loads; bytes is
 * set once the pool stops moving (mm__typo_build). */
typedef struct typo_pending_s {
    const char *bytes;
    uint32_t off;
    uint32_t entry;
    uint8_t len;
} typo_pending_t;

struct mm_typo_s {
    /* collecting */
    typo_pending_t *pending;
    size_t n_pending, cap_pending;
    /* built */
    char *pool;
    size_t pool_len, pool_cap;
    typo_word_t *words;
    size_t n_words;
    uint32_t *word_entries;
    typo_slot_t *slots;
    size_t slot_mask;
    uint32_t *postings;
    uint64_t *filter;
};

/* ------------------------------------------------------------- hashing */

/* Code points of a folded word (valid UTF-8 by construction); false when
 * it has more than max. */
static bool decode(const char *s, size_t len, uint32_t *cps, size_t max, size_t *n) {
    *n = 0;
    for (size_t i = 0; i < len;) {
        const uint8_t *p = (const uint8_t *)s + i;
        size_t k = p[0] < 0x80 ? 1 : p[0] < 0xE0 ? 2 : p[0] < 0xF0 ? 3 : 4;
        if (*n == max || i + k > len)
            return false;
        uint32_t cp = k == 1 ? p[0] : (uint32_t)(p[0] & (0x7F >> k));
        for (size_t j = 1; j < k; j++)
            cp = cp << 6 | (p[j] & 0x3Fu);
        cps[(*n)++] = cp;
        i += k;
    }
    return true;
}

/* Prefix and suffix hashes of cps[0..n): pre[i] = H(cps[0..i)),
 * suf[i] = sum_{j >= i} cps[j] * B^(n-1-j), pw[i] = B^i. */
typedef struct hashes_s {
    uint64_t pre[MM_TYPO_MAX_LETTERS + 1];
    uint64_t suf[MM_TYPO_MAX_LETTERS + 2];
    uint64_t pw[MM_TYPO_MAX_LETTERS + 1];
} hashes_t;

static void hashes_init(hashes_t *h, const uint32_t *cps, size_t n) {
    h->pre[0] = 0;
    h->pw[0] = 1;
    for (size_t i = 0; i < n; i++) {
        h->pre[i + 1] = h->pre[i] * MM__HASH_BASE + cps[i] + 1;
        h->pw[i + 1] = h->pw[i] * MM__HASH_BASE;
    }
    h->suf[n] = h->suf[n + 1] = 0;
    for (size_t i = n; i-- > 0;)
        h->suf[i] = h->suf[i + 1] + (cps[i] + 1) * h->pw[n - 1 - i];
}

/* The final key of a string of len code points with polynomial hash v
 * (a finaliser spreads the bits; never 0, which marks an empty slot). */
static uint64_t key_of(uint64_t v, size_t len) {
    v ^= (uint64_t)len * 0x9E3779B97F4A7C15ULL;
    v ^= v >> 33;
    v *= 0xFF51AFD7ED558CCDULL;
    v ^= v >> 33;
    return v ? v : 1;
}

/* Key of the whole word (del == n) or of the word without cps[del]. */
static uint64_t key_at(const hashes_t *h, size_t n, size_t del) {
    if (del == n)
        return key_of(h->pre[n], n);
    return key_of(h->pre[del] * h->pw[n - 1 - del] + h->suf[del + 1], n - 1);
}

/* ---------------------------------------------------------------- build */

mm_typo_t *mm__typo_new(void) { return calloc(1, sizeof(mm_typo_t)); }

void mm__typo_destroy(mm_typo_t *t) {
    if (!t)
        return;
    free(t->pending);
    free(t->pool);
    free(t->words);
    free(t->word_entries);
    free(t->slots);
    free(t->postings);
    free(t->filter);
    free(t);
}

bool mm__typo_add(mm_typo_t *t, const char *word, size_t len, uint32_t entry) {
    uint32_t cps[MM_TYPO_MAX_LETTERS];
    size_t n = 0;
    if (len > 255 || !decode(word, len, cps, MM_TYPO_MAX_LETTERS, &n) ||
        n < MM_TYPO_MIN_LETTERS)
        return true; /* not a target; nothing to do */
    for (size_t i = 0; i < len; i++) {
        uint8_t b = (uint8_t)word[i];
        if (b < 0x80 && (b < 'a' || b > 'z'))
            return true; /* digits, host names, symbols: not a word */
    }
    if (!mm__grow((void **)&t->pending, &t->cap_pending, t->n_pending + 1, sizeof(typo_pending_t)) ||
        !mm__grow((void **)&t->pool, &t->pool_cap, t->pool_len + len, 1))
        return false;
    memcpy(t->pool + t->pool_len, word, len);
    t->pending[t->n_pending++] =
        (typo_pending_t){.off = (uint32_t)t->pool_len, .entry = entry, .len = (uint8_t)len};
    t->pool_len += len;
    return true;
}

static int cmp_pending(const void *a, const void *b) {
    const typo_pending_t *x = a, *y = b;
    int c = memcmp(x->bytes, y->bytes, x->len < y->len ? x->len : y->len);
    if (c)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->entry < y->entry ? -1 : x->entry > y->entry;
}

typedef struct key_word_s {
    uint64_t key;
    uint32_t word;
} key_word_t;

static int cmp_key_word(const void *a, const void *b) {
    const key_word_t *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->word < y->word ? -1 : x->word > y->word;
}

/* Groups the pending pairs into distinct words with their entries. */
static bool build_words(mm_typo_t *t) {
    for (size_t i = 0; i < t->n_pending; i++)
        t->pending[i].bytes = t->pool + t->pending[i].off;
    if (t->n_pending) /* qsort may not be given NULL, even for no element */
        qsort(t->pending, t->n_pending, sizeof(typo_pending_t), cmp_pending);
    t->words = malloc((t->n_pending ? t->n_pending : 1) * sizeof(typo_word_t));
    t->word_entries = malloc((t->n_pending ? t->n_pending : 1) * sizeof(uint32_t));
    if (!t->words || !t->word_entries)
        return false;
    for (size_t i = 0; i < t->n_pending; i++) {
        const typo_pending_t *p = &t->pending[i];
        typo_word_t *w = t->n_words ? &t->words[t->n_words - 1] : NULL;
        if (!w || w->len != p->len || memcmp(t->pool + w->off, t->pool + p->off, p->len)) {
            uint32_t cps[MM_TYPO_MAX_LETTERS];
            size_t n = 0;
            decode(t->pool + p->off, p->len, cps, MM_TYPO_MAX_LETTERS, &n);
            w = &t->words[t->n_words++];
            *w = (typo_word_t){.off = p->off, .first = (uint32_t)i, .len = p->len,
                               .n_cps = (uint8_t)n};
        }
        t->word_entries[i] = p->entry;
        w->n_entries++;
    }
    return true;
}

bool mm__typo_build(mm_typo_t *t) {
    key_word_t *kw = NULL;
    bool ok = false;
    if (!build_words(t))
        goto done;
    size_t n_kw = 0;
    for (size_t w = 0; w < t->n_words; w++)
        n_kw += t->words[w].n_cps + 1u;
    kw = malloc((n_kw ? n_kw : 1) * sizeof(*kw));
    size_t slots = 1024;
    while (slots < n_kw * 2)
        slots *= 2;
    t->slots = calloc(slots, sizeof(typo_slot_t));
    t->postings = malloc((n_kw ? n_kw : 1) * sizeof(uint32_t));
    t->filter = calloc(MM__TYPO_FILTER_BITS / 64, sizeof(uint64_t));
    if (!kw || !t->slots || !t->postings || !t->filter)
        goto done;
    t->slot_mask = slots - 1;
    size_t k = 0;
    for (size_t w = 0; w < t->n_words; w++) {
        uint32_t cps[MM_TYPO_MAX_LETTERS];
        size_t n = 0;
        hashes_t h;
        decode(t->pool + t->words[w].off, t->words[w].len, cps, MM_TYPO_MAX_LETTERS, &n);
        hashes_init(&h, cps, n);
        for (size_t del = 0; del <= n; del++)
            kw[k++] = (key_word_t){key_at(&h, n, del), (uint32_t)w};
    }
    qsort(kw, k, sizeof(*kw), cmp_key_word);
    size_t n_post = 0;
    for (size_t i = 0; i < k;) {
        size_t j = i;
        size_t first = n_post;
        for (; j < k && kw[j].key == kw[i].key; j++)
            if (j == i || kw[j].word != kw[j - 1].word) /* "aab": two deletions alike */
                t->postings[n_post++] = kw[j].word;
        size_t s = kw[i].key & t->slot_mask;
        while (t->slots[s].key)
            s = (s + 1) & t->slot_mask;
        t->slots[s] = (typo_slot_t){kw[i].key, (uint32_t)first, (uint32_t)(n_post - first)};
        uint32_t bit = (uint32_t)(kw[i].key >> 40) & (MM__TYPO_FILTER_BITS - 1);
        t->filter[bit / 64] |= 1ULL << (bit % 64);
        i = j;
    }
    ok = true;
done:
    free(kw);
    free(t->pending);
    t->pending = NULL;
    t->n_pending = t->cap_pending = 0;
    return ok;
}

size_t mm__typo_words(const mm_typo_t *t) { return t->n_words; }

/* ---------------------------------------------------------------- match */

/* Optimal string alignment distance <= 1. */
static bool within_one_edit(const uint32_t *a, size_t la, const uint32_t *b, size_t lb) {
    if (la < lb) {
        const uint32_t *tp = a;
        a = b;
        b = tp;
        size_t tl = la;
        la = lb;
        lb = tl;
    }
    if (la - lb > 1)
        return false;
    size_t i = 0;
    while (i < lb && a[i] == b[i])
        i++;
    if (la != lb) /* one letter more in a: skip it */
        return memcmp(a + i + 1, b + i, (lb - i) * sizeof(*a)) == 0;
    if (i >= la - 1)
        return true; /* equal, or one letter replaced at the end */
    if (memcmp(a + i + 1, b + i + 1, (la - i - 1) * sizeof(*a)) == 0)
        return true; /* one letter replaced */
    return a[i] == b[i + 1] && a[i + 1] == b[i] &&
           memcmp(a + i + 2, b + i + 2, (la - i - 2) * sizeof(*a)) == 0;
}

static const typo_slot_t *probe(const mm_typo_t *t, uint64_t key) {
    uint32_t bit = (uint32_t)(key >> 40) & (MM__TYPO_FILTER_BITS - 1);
    if (!(t->filter[bit / 64] & (1ULL << (bit % 64))))
        return NULL;
    for (size_t s = key & t->slot_mask; t->slots[s].key; s = (s + 1) & t->slot_mask)
        if (t->slots[s].key == key)
            return &t->slots[s];
    return NULL;
}

/* Whether target word w has an entry of language lang (-1: any). */
static bool word_in_lang(const mm_lexicon_t *lex, const typo_word_t *w, int lang) {
    const mm_typo_t *t = lex->typo;
    for (uint16_t e = 0; e < w->n_entries; e++)
        if (lang < 0 || (int)lex->entries[t->word_entries[w->first + e]].lang == lang)
            return true;
    return false;
}

/* The one target word of language lang within one edit of the token
 * cps[0..n); -1 when there is none, or more than one (ambiguous: "shos"
 * could be shoes or shops, so neither is claimed). */
static long correction(const mm_lexicon_t *lex, const uint32_t *cps, size_t n, int lang) {
    const mm_typo_t *t = lex->typo;
    hashes_t h;
    long found = -1;
    hashes_init(&h, cps, n);
    for (size_t del = 0; del <= n; del++) {
        const typo_slot_t *slot = probe(t, key_at(&h, n, del));
        for (uint32_t i = 0; slot && i < slot->count; i++) {
            uint32_t w = t->postings[slot->first + i];
            if ((long)w == found)
                continue;
            const typo_word_t *word = &t->words[w];
            uint32_t wcps[MM_TYPO_MAX_LETTERS];
            size_t wn = 0;
            decode(t->pool + word->off, word->len, wcps, MM_TYPO_MAX_LETTERS, &wn);
            /* People rarely mistype a word's first letter; words that
             * differ there are mostly other words ("bridge", "fridge"). */
            if (wcps[0] != cps[0] || !word_in_lang(lex, word, lang) ||
                !within_one_edit(cps, n, wcps, wn))
                continue;
            if (found >= 0)
                return -1;
            found = (long)w;
        }
    }
    return found;
}

static bool is_covered(const mm_fold_token_t *tok, const mm_match_t *hits, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (mm__match_covers(&hits[i], tok))
            return true;
    return false;
}

size_t mm__typo_scan(const mm_lexicon_t *lex, const mm_fold_t *fold, int lang,
                     mm_match_t *hits, size_t n_hits, size_t max) {
    const mm_typo_t *t = lex->typo;
    size_t n = n_hits < max ? n_hits : max;
    if (!t || t->n_words == 0)
        return n;
    for (uint16_t i = 0; i < fold->n_tokens && n < max; i++) {
        const mm_fold_token_t *tok = &fold->tokens[i];
        size_t len = (size_t)(tok->end - tok->start);
        if (len < MM_TYPO_MIN_LETTERS - 1 || len > 4 * MM_TYPO_MAX_LETTERS ||
            is_covered(tok, hits, n_hits < max ? n_hits : max))
            continue;
        const char *s = fold->buf + tok->start;
        bool word = true;
        for (size_t k = 0; k < len && word; k++)
            word = (uint8_t)s[k] >= 0x80 || (s[k] >= 'a' && s[k] <= 'z');
        uint32_t cps[MM_TYPO_MAX_LETTERS];
        size_t n_cps = 0;
        if (!word || !decode(s, len, cps, MM_TYPO_MAX_LETTERS, &n_cps) ||
            n_cps < MM_TYPO_MIN_LETTERS - 1) /* a letter dropped from the shortest */
            continue;
        long found = correction(lex, cps, n_cps, lang);
        if (found < 0)
            continue;
        const typo_word_t *w = &t->words[found];
        for (uint16_t e = 0; e < w->n_entries && n < max; e++) {
            uint32_t id = t->word_entries[w->first + e];
            if (lang < 0 || (int)lex->entries[id].lang == lang)
                hits[n++] = (mm_match_t){.id = id, .start = tok->start, .end = tok->end,
                                         .edits = 1};
        }
    }
    return n;
}
