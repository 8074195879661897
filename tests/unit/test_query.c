/*
 * Query analysis: what the text of a query says (scores for all four
 * moments, roles, language, terms, signals), with the shipped lexicons.
 */
#include <check.h>

#include "check_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier/lexicon_int.h"

static mm_rules_t *rules;

static void rules_setup(void) {
    char err[256] = "";
    mm_rules_conf_t conf;
    mm_rules_conf_defaults(&conf);
    rules = mm_rules_load(MM_SOURCE_DIR "/lexicons", &conf, err, sizeof(err));
    ck_assert_msg(rules != NULL, "%s", err);
}

static void rules_teardown(void) {
    mm_rules_destroy(rules);
    rules = NULL;
}

static mm_str_t str(const char *s) {
    return s ? (mm_str_t){s, strlen(s)} : (mm_str_t){NULL, 0};
}

static void analyze(const char *q, const char *hint, mm_query_analysis_t *qa) {
    mm__query_analyze(rules, str(q), str(hint), qa);
}

/* "none" when the decision rule yields no moment. */
static const char *decide(const mm_query_analysis_t *qa) {
    mm_moment_type_t type;
    float conf;
    return mm__query_decide(rules, qa, &type, &conf) ? mm_moment_type_name(type)
                                                     : "none";
}

static void assert_moment(const char *q, const char *hint, const char *want) {
    mm_query_analysis_t qa;
    analyze(q, hint, &qa);
    ck_assert_msg(strcmp(decide(&qa), want) == 0,
                  "'%s' (%s): want %s, got %s [know %.2f go %.2f do %.2f buy %.2f]",
                  q, hint ? hint : "no hint", want, decide(&qa), qa.scores[0],
                  qa.scores[1], qa.scores[2], qa.scores[3]);
}

static const mm_signal_t *find_signal(const mm_query_analysis_t *qa,
                                      const char *name, const char *value) {
    for (uint32_t i = 0; i < qa->n_signals; i++) {
        const mm_signal_t *s = &qa->signals[i];
        if (strcmp(s->name, name) == 0 && s->value.len == strlen(value) &&
            (s->value.len == 0 || memcmp(s->value.p, value, s->value.len) == 0))
            return s;
    }
    return NULL;
}

/* ----------------------------------------------------- nuance of the source */

START_TEST(test_how_to_is_do) { assert_moment("how to change a bike tire", "en", "do"); }
END_TEST

START_TEST(test_how_does_x_work_is_know) {
    assert_moment("how does a heat pump work", "en", "know");
}
END_TEST

START_TEST(test_near_me_is_go) {
    mm_query_analysis_t qa;
    analyze("coffee near me", "en", &qa);
    ck_assert_str_eq(decide(&qa), "go");
    ck_assert(qa.place_seeking);
    ck_assert_float_ge(qa.scores[MM_MOMENT_GO], 0.9f);
}
END_TEST

START_TEST(test_best_place_is_go) {
    assert_moment("best italian restaurant in copenhagen", "en", "go");
}
END_TEST

START_TEST(test_best_with_price_bound_is_buy) {
    mm_query_analysis_t qa;
    analyze("best headphones under $200", "en", &qa);
    ck_assert_str_eq(decide(&qa), "buy");
    ck_assert(qa.price_bound);
    ck_assert(qa.product);
}
END_TEST

START_TEST(test_best_product_is_know_and_buy) {
    /* layered intent: both moments clear the bar */
    mm_query_analysis_t qa;
    analyze("best running shoes for wide feet", "en", &qa);
    ck_assert(qa.product);
    ck_assert_float_ge(qa.scores[MM_MOMENT_KNOW], (float)rules->conf.min_confidence);
    ck_assert_float_ge(qa.scores[MM_MOMENT_BUY], (float)rules->conf.min_confidence);
    ck_assert_float_lt(qa.scores[MM_MOMENT_GO], 0.1f);
    ck_assert_float_lt(qa.scores[MM_MOMENT_DO], 0.1f);
}
END_TEST

START_TEST(test_best_alone_is_know) { assert_moment("best movies of 2023", "en", "know"); }
END_TEST

START_TEST(test_question_with_best_product_is_know) {
    assert_moment("what is the best laptop for students", "en", "know");
}
END_TEST

/* ------------------------------------------- the brief's keywords, 5 languages */

static const struct {
    const char *q, *hint, *want;
} keyword_rows[] = {
    {"how to tie a tie", "en", "do"},
    {"pizza near me", "en", "go"},
    {"buy running shoes", "en", "buy"},
    {"compare iphone prices", "en", "buy"},
    {"headphones under 1000 kr", "da", "buy"},
    {"pharmacy open now", "en", "go"},
    {"hvordan bager man boller", "da", "do"},
    {"pizza n\xc3\xa6r mig", "da", "go"},
    {"k\xc3\xb8" "b en cykel", "da", "buy"},
    {"kuidas vahetada rehvi", "et", "do"},
    {"apteek minu l\xc3\xa4hedal", "et", "go"},
    {"osta s\xc3\xbclearvuti", "et", "buy"},
    {"apotheke in der n\xc3\xa4he", "de", "go"},
    {"laufschuhe kaufen", "de", "buy"},
    {"rezept f\xc3\xbcr pfannkuchen", "de", "do"},
    {"cajero cerca de m\xc3\xad", "es", "go"},
    {"comprar entradas concierto", "es", "buy"},
    {"receta de paella", "es", "do"},
    {"qu\xc3\xa9 es la fotos\xc3\xadntesis", "es", "know"},
    {"hvad er inflation", "da", "know"},
    {"mis on inflatsioon", "et", "know"},
    {"tankstelle jetzt ge\xc3\xb6" "ffnet", "de", "go"},
};

START_TEST(test_brief_keywords_classify) {
    assert_moment(keyword_rows[_i].q, keyword_rows[_i].hint, keyword_rows[_i].want);
}
END_TEST

START_TEST(test_brief_keywords_classify_without_hint) {
    assert_moment(keyword_rows[_i].q, NULL, keyword_rows[_i].want);
}
END_TEST

/* ------------------------------------------------------------ folding in use */

START_TEST(test_danish_letters_fold) {
    assert_moment("K\xc3\x98" "B BILLIGE L\xc3\x98" "BESKO", NULL, "buy");
    assert_moment("APOTEK \xc3\x85" "BENT NU", NULL, "go");
}
END_TEST

START_TEST(test_omitted_accents_still_match) {
    assert_moment("como cambiar una rueda", "es", "do");
    assert_moment("farmacia cerca de mi", "es", "go");
    assert_moment("cafe in der nahe", "de", "go");
    assert_moment("apteek minu lahedal", "et", "go");
}
END_TEST

START_TEST(test_word_boundary_no_partial_match) {
    /* "buyer", "bestow", "atmosphere", "sprice" hold buy/best/atm/price */
    mm_query_analysis_t qa;
    analyze("buyers bestow atmosphere sprice", "en", &qa);
    ck_assert_float_eq(qa.scores[MM_MOMENT_GO], 0.0f);
    ck_assert_float_eq(qa.scores[MM_MOMENT_BUY], 0.0f);
    ck_assert(!qa.price_bound && !qa.place_seeking && !qa.product);
}
END_TEST

START_TEST(test_stem_affix_matches_inflected_forms) {
    /* "apteeg-" (et) and "tandlæge-" (da) are stems: case and definite
     * forms that no row spells out still match */
    mm_query_analysis_t qa;
    analyze("apteegis tartus", NULL, &qa);
    ck_assert(qa.place_seeking);
    ck_assert_str_eq(decide(&qa), "go");
    analyze("tandl\xc3\xa6gens adresse", NULL, &qa);
    ck_assert(qa.place_seeking);
}
END_TEST

START_TEST(test_compound_head_affix_matches_compounds) {
    assert_moment("kontserdipiletid", NULL, "buy");
    assert_moment("koncertbilletter", "da", "buy");
    assert_moment("kinderarzt in der n\xc3\xa4he", "de", "go");
}
END_TEST

START_TEST(test_spelling_without_special_letters_matches) {
    /* generated spellings: ae for æ/ä, aa or a for å, o for ø */
    assert_moment("tandlaege i naerheden", NULL, "go");
    assert_moment("apotheke in der naehe", NULL, "go");
    assert_moment("bager aaben nu", "da", "go");
    assert_moment("kob billige sko", "da", "buy");
}
END_TEST

/* ------------------------------------------------------------ roles and none */

START_TEST(test_price_bound_is_any_number_and_currency) {
    const char *qs[] = {"sko under 1.500 kr", "tv under $300", "handy unter 200 euro",
                        "m\xc3\xb3vil por menos de 300", "telefon alla 300 euro"};
    for (size_t i = 0; i < 5; i++) {
        mm_query_analysis_t qa;
        analyze(qs[i], NULL, &qa);
        ck_assert_msg(qa.price_bound, "%s", qs[i]);
        ck_assert_msg(strcmp(decide(&qa), "buy") == 0, "%s", qs[i]);
    }
}
END_TEST

START_TEST(test_navigational_site_is_none) {
    mm_query_analysis_t qa;
    analyze("facebook", "en", &qa);
    ck_assert(qa.navigational);
    ck_assert_str_eq(decide(&qa), "none");
    analyze("YouTube.com", NULL, &qa);
    ck_assert(qa.navigational);
    ck_assert_str_eq(decide(&qa), "none");
}
END_TEST

START_TEST(test_host_name_is_navigational) {
    /* a host name is one token: "osta" (buy) inside "osta.ee" is not a word */
    const char *qs[] = {"dr.dk", "osta.ee", "www.bild.de", "ebay.co.uk login"};
    for (size_t i = 0; i < 4; i++) {
        mm_query_analysis_t qa;
        analyze(qs[i], NULL, &qa);
        ck_assert_msg(qa.navigational, "%s", qs[i]);
        ck_assert_msg(strcmp(decide(&qa), "none") == 0, "%s", qs[i]);
    }
}
END_TEST

START_TEST(test_brand_with_intent_is_not_navigational) {
    mm_query_analysis_t qa;
    analyze("discount code for nike", "en", &qa);
    ck_assert(!qa.navigational);
    ck_assert_str_eq(decide(&qa), "buy");
}
END_TEST

START_TEST(test_device_command_is_none) {
    assert_moment("turn off the lights in the kitchen", "en", "none");
    assert_moment("set an alarm for seven", "en", "none");
    assert_moment("skru op for lydstyrken", "da", "none");
}
END_TEST

START_TEST(test_no_intent_words_is_none) {
    assert_moment("hello there", "en", "none");
}
END_TEST


/* ------------------------------------------------ bare topics and names */

/* A query with no cue word wants to know about its topic: a know moment
 * at exactly the topic confidence, so downstream can threshold it. */
static const struct {
    const char *q, *lang;
} topic_rows[] = {
    {"alan alda", "en"},
    {"the persian gulf war", "en"},
    {"mars retrograde motion", "en"},
    {"usda zones for planting", "en"},
    {"niels bohr atomteori", "da"},
    {"lennart meri", "et"},
    {"dreissigjaehriger krieg", "de"},
    {"gabriel garcia marquez", "es"},
};

START_TEST(test_bare_topic_is_low_confidence_know) {
    for (int hint = 0; hint < 2; hint++) {
        mm_query_analysis_t qa;
        analyze(topic_rows[_i].q, hint ? topic_rows[_i].lang : NULL, &qa);
        ck_assert_msg(strcmp(decide(&qa), "know") == 0, "'%s': %s", topic_rows[_i].q,
                      decide(&qa));
        ck_assert_float_eq_tol(qa.scores[MM_MOMENT_KNOW],
                               (float)rules->conf.topic_confidence, 1e-6f);
        ck_assert_ptr_nonnull(find_signal(&qa, "topic", ""));
    }
}
END_TEST

/* Names of sites, apps and brands, URLs and domains, a login page, and
 * greetings are no moment, in every language. */
static const struct {
    const char *q, *lang;
} name_rows[] = {
    {"facebook", "en"},      {"gmail", "en"},          {"login", "en"},
    {"www.example.com", "en"}, {"chase login", "en"},  {"nike", "en"},
    {"hello", "en"},         {"dr.dk", "da"},          {"mitid log ind", "da"},
    {"hej", "da"},           {"postimees", "et"},      {"tere", "et"},
    {"spiegel.de", "de"},    {"web.de anmelden", "de"}, {"hallo", "de"},
    {"hola que tal", "es"},  {"wallapop", "es"},       {"buenos d\xc3\xad" "as", "es"},
};

START_TEST(test_names_and_greetings_are_none) {
    assert_moment(name_rows[_i].q, name_rows[_i].lang, "none");
    assert_moment(name_rows[_i].q, NULL, "none");
}
END_TEST

START_TEST(test_topic_confidence_zero_turns_topics_off) {
    char err[256] = "";
    mm_rules_conf_t conf;
    mm_rules_conf_defaults(&conf);
    conf.topic_confidence = 0.0;
    mm_rules_t *off = mm_rules_load(MM_SOURCE_DIR "/lexicons", &conf, err, sizeof(err));
    ck_assert_msg(off != NULL, "%s", err);
    mm_query_analysis_t qa;
    mm__query_analyze(off, str("alan alda"), str("en"), &qa);
    mm_moment_type_t type;
    float c;
    ck_assert(!mm__query_decide(off, &qa, &type, &c));
    mm_rules_destroy(off);
}
END_TEST

/* ------------------------------------------------------- product and task */

START_TEST(test_product_does_not_outvote_the_task) {
    mm_query_analysis_t qa;
    analyze("how to change a bike tyre", "en", &qa);
    ck_assert_str_eq(decide(&qa), "do");
    ck_assert_float_eq(qa.scores[MM_MOMENT_BUY], 0.0f);
    assert_moment("bike shop near me", "en", "go");
    assert_moment("sql order descending", "en", "do");
    assert_moment("220 c to fahrenheit oven", "en", "know");
    /* with no task, or with a buying cue, the product still votes */
    assert_moment("mountain bike", "en", "buy");
    assert_moment("cheap bike", "en", "buy");
}
END_TEST

/* ------------------------------------------------------- languages alike */

/* The same need in each language gets the same moment, with or without
 * the language hint. */
static const struct {
    const char *q, *lang, *want;
} alike_rows[] = {
    {"weather tomorrow london", "en", "know"},
    {"vejret i morgen aarhus", "da", "know"},
    {"ilm homme tallinn", "et", "know"},
    {"wetter morgen berlin", "de", "know"},
    {"tiempo ma\xc3\xb1" "ana madrid", "es", "know"},
    {"hello how are you", "en", "none"},
    {"hej hvordan g\xc3\xa5r det", "da", "none"},
    {"tere kuidas l\xc3\xa4heb", "et", "none"},
    {"hallo wie geht's", "de", "none"},
    {"hola que tal", "es", "none"},
};

START_TEST(test_languages_alike) {
    assert_moment(alike_rows[_i].q, alike_rows[_i].lang, alike_rows[_i].want);
    assert_moment(alike_rows[_i].q, NULL, alike_rows[_i].want);
}
END_TEST

/* ------------------------------------------------------- unicode, typos */

START_TEST(test_fullwidth_query_matches) {
    /* "ＣＯＦＦＥＥ ＮＥＡＲ ＭＥ" */
    assert_moment("\xef\xbc\xa3\xef\xbc\xaf\xef\xbc\xa6\xef\xbc\xa6\xef\xbc\xa5\xef\xbc\xa5 "
                  "\xef\xbc\xae\xef\xbc\xa5\xef\xbc\xa1\xef\xbc\xb2 \xef\xbc\xad\xef\xbc\xa5",
                  "en", "go");
}
END_TEST

/* { query, hint, moment, the row the typo was read as } */
static const struct {
    const char *q, *lang, *want, *row;
} typo_rows[] = {
    {"recipie for chili", "en", "do", "recipe"},        /* a letter inserted */
    {"tutorail excel pivot", "en", "do", "tutorial"},   /* two swapped */
    {"resturants downtown", "en", "go", "restaurants"}, /* a letter dropped */
    {"facebok", NULL, "none", "facebook"},              /* a name */
    {"cheapst flights", "en", "buy", "cheapest"},
    {"opskrfit p\xc3\xa5 boller", "da", "do", "opskrift"},
};

START_TEST(test_one_typo_is_tolerated) {
    mm_query_analysis_t qa;
    analyze(typo_rows[_i].q, typo_rows[_i].lang, &qa);
    ck_assert_msg(strcmp(decide(&qa), typo_rows[_i].want) == 0, "'%s': %s",
                  typo_rows[_i].q, decide(&qa));
    ck_assert_msg(find_signal(&qa, "keyword_typo", typo_rows[_i].row) != NULL, "'%s'",
                  typo_rows[_i].q);
}
END_TEST

START_TEST(test_typo_tolerance_is_bounded) {
    mm_query_analysis_t qa;
    /* two edits from "restaurant": not read as it */
    analyze("restaraunt", "en", &qa);
    ck_assert_uint_eq(qa.n_signals, 2); /* topic, lang */
    /* a first letter differs: "bridge" is not "fridge" */
    analyze("golden gate bridge", "en", &qa);
    ck_assert_str_eq(decide(&qa), "know");
    /* a short row is no target: "pride" is not "price" */
    analyze("pride and prejudice", "en", &qa);
    ck_assert_str_eq(decide(&qa), "know");
    /* a cue that already decides ("near me") saves the lookups */
    analyze("resturants near me", "en", &qa);
    ck_assert_str_eq(decide(&qa), "go");
    ck_assert_ptr_null(find_signal(&qa, "keyword_typo", "restaurants"));
    /* only rows of the query's language: "recipe" is not Spanish */
    analyze("recipie pollo", "es", &qa);
    ck_assert_ptr_null(find_signal(&qa, "keyword_typo", "recipe"));
}
END_TEST

/* ---------------------------------------------------------------- language */

static const struct {
    const char *q, *lang;
} lang_rows[] = {
    {"hvor er det n\xc3\xa6rmeste apotek", "da"},
    {"kuidas teha kodus leiba", "et"},
    {"wie wechselt man einen fahrradreifen", "de"},
    {"d\xc3\xb3nde est\xc3\xa1 la farmacia", "es"},
    {"where is the nearest pharmacy", "en"},
    {"k\xc3\xb8" "b", "da"},
    {"\xc3\xb5un", "et"},
    {"stra\xc3\x9f" "e", "de"},
    {"ma\xc3\xb1" "ana", "es"},
};

START_TEST(test_lang_is_inferred_without_hint) {
    mm_query_analysis_t qa;
    analyze(lang_rows[_i].q, NULL, &qa);
    ck_assert_ptr_nonnull(qa.lang);
    ck_assert_msg(strcmp(qa.lang, lang_rows[_i].lang) == 0, "'%s': %s", lang_rows[_i].q,
                  qa.lang);
    ck_assert(qa.lang_inferred);
    ck_assert_ptr_nonnull(find_signal(&qa, "lang_inferred", lang_rows[_i].lang));
}
END_TEST

START_TEST(test_lang_hint_is_used) {
    mm_query_analysis_t qa;
    analyze("restaurant", "da-DK", &qa);
    ck_assert_str_eq(qa.lang, "da");
    ck_assert(!qa.lang_inferred);
    ck_assert_ptr_nonnull(find_signal(&qa, "lang", "da"));
}
END_TEST

START_TEST(test_unknown_hint_falls_back_to_inference) {
    mm_query_analysis_t qa;
    analyze("apotek i n\xc3\xa6rheden", "fr", &qa);
    ck_assert_str_eq(qa.lang, "da");
    ck_assert(qa.lang_inferred);
}
END_TEST

/* --------------------------------------------------------- signals, terms */

START_TEST(test_keyword_signal_points_into_lexicon) {
    mm_query_analysis_t qa;
    analyze("Coffee NEAR ME", "en", &qa);
    const mm_signal_t *s = find_signal(&qa, "keyword", "near me");
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s->lang, "en");
    /* the phrase as the lexicon writes it, not as the query has it */
    const mm_lexicon_t *lex = rules->lexicon;
    bool inside = false;
    for (size_t i = 0; i < lex->n_entries; i++)
        inside |= lex->entries[i].phrase == s->value.p;
    ck_assert(inside);
}
END_TEST

START_TEST(test_longer_phrase_hides_its_words) {
    mm_query_analysis_t qa;
    analyze("how to meditate", "en", &qa);
    ck_assert_ptr_nonnull(find_signal(&qa, "keyword", "how to"));
    ck_assert_ptr_null(find_signal(&qa, "keyword", "how"));
}
END_TEST

START_TEST(test_terms_skip_function_words) {
    mm_query_analysis_t a, b;
    analyze("what is the coffee", "en", &a);
    analyze("coffee", "en", &b);
    ck_assert_uint_eq(a.n_terms, 1);
    ck_assert_uint_eq(b.n_terms, 1);
    ck_assert_uint_eq(a.term_hashes[0], b.term_hashes[0]);
}
END_TEST

START_TEST(test_refinements_share_terms) {
    mm_query_analysis_t a, b;
    analyze("running shoes", "en", &a);
    analyze("running shoes for wide feet sale", "en", &b);
    uint32_t shared = 0;
    for (uint32_t i = 0; i < a.n_terms; i++)
        for (uint32_t j = 0; j < b.n_terms; j++)
            shared += a.term_hashes[i] == b.term_hashes[j];
    ck_assert_uint_eq(shared, 2);
    ck_assert_uint_le(b.n_terms, MM_QUERY_TERMS_MAX);
}
END_TEST

/* ------------------------------------------------------------ robustness */

static void assert_sane(const mm_query_analysis_t *qa) {
    for (int k = 0; k < MM_MOMENT__COUNT; k++) {
        ck_assert(qa->scores[k] >= 0.0f && qa->scores[k] <= 1.0f);
    }
    ck_assert_uint_le(qa->n_signals, MM_QUERY_SIGNALS_MAX);
    ck_assert_uint_le(qa->n_terms, MM_QUERY_TERMS_MAX);
}

START_TEST(test_empty_query) {
    mm_query_analysis_t qa;
    mm__query_analyze(rules, (mm_str_t){NULL, 0}, (mm_str_t){NULL, 0}, &qa);
    assert_sane(&qa);
    ck_assert_str_eq(decide(&qa), "none");
    ck_assert_ptr_null(qa.lang);
    analyze("", "en", &qa);
    ck_assert_str_eq(decide(&qa), "none");
    ck_assert_uint_eq(qa.n_terms, 0);
    analyze(" \t!? ", NULL, &qa);
    ck_assert_str_eq(decide(&qa), "none");
}
END_TEST

START_TEST(test_huge_query) {
    size_t len = 1u << 20;
    char *big = malloc(len);
    ck_assert_ptr_nonnull(big);
    for (size_t i = 0; i < len; i++)
        big[i] = "near me "[i % 8];
    mm_query_analysis_t qa;
    mm__query_analyze(rules, (mm_str_t){big, len}, (mm_str_t){NULL, 0}, &qa);
    assert_sane(&qa);
    ck_assert_str_eq(decide(&qa), "go");
    free(big);
}
END_TEST

START_TEST(test_invalid_utf8_query_does_not_crash) {
    /* deterministic random bytes, biased towards UTF-8 lead bytes */
    uint64_t x = 0x9E3779B97F4A7C15u;
    char q[300];
    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t)(x % sizeof(q));
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            uint8_t b = (uint8_t)x;
            q[i] = (char)((x >> 8) % 4 == 0 ? (0xC0 | (b & 0x3F)) : b);
        }
        mm_query_analysis_t qa;
        mm__query_analyze(rules, (mm_str_t){q, len}, (mm_str_t){q, len % 8}, &qa);
        assert_sane(&qa);
    }
}
END_TEST

static Suite *query_suite(void) {
    Suite *s = suite_create("query");
    TCase *tc = tcase_create("query_nuance");
    tcase_add_unchecked_fixture(tc, rules_setup, rules_teardown);
    tcase_add_test(tc, test_how_to_is_do);
    tcase_add_test(tc, test_how_does_x_work_is_know);
    tcase_add_test(tc, test_near_me_is_go);
    tcase_add_test(tc, test_best_place_is_go);
    tcase_add_test(tc, test_best_with_price_bound_is_buy);
    tcase_add_test(tc, test_best_product_is_know_and_buy);
    tcase_add_test(tc, test_best_alone_is_know);
    tcase_add_test(tc, test_question_with_best_product_is_know);
    suite_add_tcase(s, tc);

    tc = tcase_create("query_keywords");
    tcase_add_unchecked_fixture(tc, rules_setup, rules_teardown);
    tcase_add_loop_test(tc, test_brief_keywords_classify, 0,
                        (int)(sizeof(keyword_rows) / sizeof(keyword_rows[0])));
    tcase_add_loop_test(tc, test_brief_keywords_classify_without_hint, 0,
                        (int)(sizeof(keyword_rows) / sizeof(keyword_rows[0])));
    tcase_add_test(tc, test_danish_letters_fold);
    tcase_add_test(tc, test_omitted_accents_still_match);
    tcase_add_test(tc, test_word_boundary_no_partial_match);
    tcase_add_test(tc, test_stem_affix_matches_inflected_forms);
    tcase_add_test(tc, test_compound_head_affix_matches_compounds);
    tcase_add_test(tc, test_spelling_without_special_letters_matches);
    suite_add_tcase(s, tc);

    tc = tcase_create("query_roles");
    tcase_add_unchecked_fixture(tc, rules_setup, rules_teardown);
    tcase_add_test(tc, test_price_bound_is_any_number_and_currency);
    tcase_add_test(tc, test_navigational_site_is_none);
    tcase_add_test(tc, test_host_name_is_navigational);
    tcase_add_test(tc, test_brand_with_intent_is_not_navigational);
    tcase_add_test(tc, test_device_command_is_none);
    tcase_add_test(tc, test_no_intent_words_is_none);
    suite_add_tcase(s, tc);

    tc = tcase_create("query_topics");
    tcase_add_unchecked_fixture(tc, rules_setup, rules_teardown);
    tcase_add_loop_test(tc, test_bare_topic_is_low_confidence_know, 0,
                        (int)(sizeof(topic_rows) / sizeof(topic_rows[0])));
    tcase_add_loop_test(tc, test_names_and_greetings_are_none, 0,
                        (int)(sizeof(name_rows) / sizeof(name_rows[0])));
    tcase_add_test(tc, test_topic_confidence_zero_turns_topics_off);
    tcase_add_test(tc, test_product_does_not_outvote_the_task);
    tcase_add_loop_test(tc, test_languages_alike, 0,
                        (int)(sizeof(alike_rows) / sizeof(alike_rows[0])));
    suite_add_tcase(s, tc);

    tc = tcase_create("query_typos");
    tcase_add_unchecked_fixture(tc, rules_setup, rules_teardown);
    tcase_add_test(tc, test_fullwidth_query_matches);
    tcase_add_loop_test(tc, test_one_typo_is_tolerated, 0,
                        (int)(sizeof(typo_rows) / sizeof(typo_rows[0])));
    tcase_add_test(tc, test_typo_tolerance_is_bounded);
    suite_add_tcase(s, tc);

    tc = tcase_create("query_lang");
    tcase_add_unchecked_fixture(tc, rules_setup, rules_teardown);
    tcase_add_loop_test(tc, test_lang_is_inferred_without_hint, 0,
                        (int)(sizeof(lang_rows) / sizeof(lang_rows[0])));
    tcase_add_test(tc, test_lang_hint_is_used);
    tcase_add_test(tc, test_unknown_hint_falls_back_to_inference);
    suite_add_tcase(s, tc);

    tc = tcase_create("query_signals");
    tcase_add_unchecked_fixture(tc, rules_setup, rules_teardown);
    tcase_add_test(tc, test_keyword_signal_points_into_lexicon);
    tcase_add_test(tc, test_longer_phrase_hides_its_words);
    tcase_add_test(tc, test_terms_skip_function_words);
    tcase_add_test(tc, test_refinements_share_terms);
    suite_add_tcase(s, tc);

    tc = tcase_create("query_robust");
    tcase_add_unchecked_fixture(tc, rules_setup, rules_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_empty_query);
    tcase_add_test(tc, test_huge_query);
    tcase_add_test(tc, test_invalid_utf8_query_does_not_crash);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    return mm_check_run(query_suite());
}
