/*
 * Language inference for a query whose event has no usable `lang` hint.
 *
 * Two kinds of evidence, summed per language:
 *   - lexicon hits: every phrase found in the query counts for the language
 *     of its file, one point per word (a phrase "in der nähe" is stronger
 *     evidence than a single "in"). Function words (class `stop`) are in
 *     the lexicons for exactly this. A phrase shared by several languages
 *     ("restaurant") counts for each, so it does not tell them apart.
 *   - letters, counted by mm__fold before accents are stripped: æ ø å only
 *     occur in Danish here, õ in Estonian, ß in German, ñ ¿ ¡ in Spanish;
 *     ä ö ü are German or Estonian (the words decide); á í ó ú lean Spanish,
 *     é only slightly (café is everywhere).
 * The winner is the language with the most evidence; on a tie English
 * (search's lingua franca) if it is among the tied, else the first loaded.
 * Cost: one pass over the hits plus a few lookups; no allocation.
 */
#include "lexicon_int.h"

/* Points per letter, and a cap so one long word cannot swamp the words. */
#define MM__LETTER_CAP 3

typedef struct letter_rule_s {
    mm_fold_evidence_t evidence;
    const char *lang;
    float points;
} letter_rule_t;

static const letter_rule_t letter_rules[] = {
    {MM_EVID_DA, "da", 1.5f},     {MM_EVID_ET, "et", 2.0f},
    {MM_EVID_DE, "de", 2.0f},     {MM_EVID_UMLAUT, "de", 0.75f},
    {MM_EVID_UMLAUT, "et", 0.75f}, {MM_EVID_ES, "es", 2.0f},
    {MM_EVID_ACUTE, "es", 1.0f},  {MM_EVID_E_ACUTE, "es", 0.5f},
};

int mm__lang_infer(const mm_lexicon_t *lex, const mm_fold_t *fold,
                   const mm_match_t *hits, size_t n_hits, float *confidence) {
    float score[MM_LEX_LANGS_MAX] = {0};
    float total = 0.0f;
    for (size_t i = 0; i < n_hits; i++) {
        const mm_lex_entry_t *e = &lex->entries[hits[i].id];
        score[e->lang] += (float)e->n_words;
        total += (float)e->n_words;
    }
    for (size_t r = 0; r < sizeof(letter_rules) / sizeof(letter_rules[0]); r++) {
        uint16_t n = fold->evidence[letter_rules[r].evidence];
        if (n == 0)
            continue;
        int lang = mm__lexicon_lang_index(lex, letter_rules[r].lang, 2);
        if (lang < 0)
            continue;
        float pts = letter_rules[r].points * (float)(n < MM__LETTER_CAP ? n : MM__LETTER_CAP);
        score[lang] += pts;
        total += pts;
    }
    *confidence = 0.0f;
    if (total <= 0.0f)
        return -1;
    int en = mm__lexicon_lang_index(lex, "en", 2);
    int best = 0;
    for (int i = 1; i < (int)lex->n_langs; i++)
        if (score[i] > score[best])
            best = i;
    if (en >= 0 && score[en] == score[best])
        best = en;
    *confidence = score[best] / total;
    return best;
}
