/*
 * Synthetic clickstream generator.
 *
 * HOW IT WORKS. Users act in *episodes*: a short script of events with one
 * intent, e.g. a buy episode is a buy query, 0-3 refinements seconds apart
 * sharing its product, a product page, a click, then maybe add_to_cart and
 * purchase minutes later; a go episode is 2-5 location pings a minute apart
 * around a city centre and then a "near me" query. Episodes start as a
 * Poisson process (rate / events per episode) and run concurrently in slots;
 * a min-heap on each slot's next event time emits events in ts order, so
 * users interleave as in a real stream while each episode keeps its own
 * realistic gaps. Which user starts an episode is Zipf-distributed (a CDF
 * table, binary search): a few heavy users and a long tail. A user's home
 * city, language and device are a hash of (seed, user), so they stay fixed
 * without per-user state.
 *
 * Determinism: one xoshiro256** stream seeded from conf.seed drives every
 * choice in a fixed order, and numbers go through the JSON writer's
 * locale-free formatting, so a seed gives the same bytes on every run.
 *
 * Slots bound concurrency: about 64 per event/s of rate (an episode lasts a
 * few minutes), capped at 2^18; past ~10k events/s of event time the rate
 * saturates (arrivals wait for a free slot), which matters only for event
 * time, not for how fast events are written.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sinks/sinks.h"
#include "gen.h"

#define SLOTS_MIN 256u
#define SLOTS_MAX (1u << 18)
#define STEPS_MAX 16
#define EVENTS_PER_EPISODE 5.4 /* weighted mean of the scripts below */

/* ------------------------------------------------------------ vocabulary */

enum { I_KNOW, I_GO, I_DO, I_BUY, I__COUNT }; /* mm_moment_type_t order */

/** One language: per intent, templates ("{}" = the subject), subjects and
 * refinement modifiers; NULL-terminated lists. */
typedef struct vocab_s {
    const char *code;
    const char *tpl[I__COUNT][7];
    const char *subj[I__COUNT][8];
    const char *mod[I__COUNT][5];
    const char *nav[5]; /* queries with no intent */
} vocab_t;

static const vocab_t vocabs[] = {
    {"en",
     {{"how does {} work", "what is {}", "{} explained", "{} pros and cons",
       "is {} worth it", NULL},
      {"{} near me", "{} open now", "nearest {}", "{} nearby",
       "best {} near me", NULL},
      {"how to {}", "{} step by step", "{} tutorial", "how do i {}", NULL},
      {"buy {}", "{} price", "cheap {}", "best {} under 1000 kr",
       "compare {}", "{} deals", NULL}},
     {{"a heat pump", "an induction hob", "a solar panel", "an electric bike",
       "compound interest", "sourdough", NULL},
      {"coffee", "pharmacy", "pizza", "bike repair", "supermarket", "atm",
       "vegan restaurant", NULL},
      {"fix a bike chain", "change a tyre", "bleed a radiator",
       "make sourdough bread", "reset a router", "paint a door", NULL},
      {"running shoes", "wireless earbuds", "robot vacuums", "winter jackets",
       "standing desks", "air fryers", NULL}},
     {{"for kids", "simply", NULL},
      {"with parking", "open late", NULL},
      {"without tools", "for beginners", "quickly", NULL},
      {"for wide feet", "size 44", "waterproof", "black", NULL}},
     {"facebook", "youtube", "weather", "gmail", NULL}},
    {"da",
     {{"hvordan virker {}", "hvad er {}", "{} forklaret",
       "fordele og ulemper ved {}", NULL},
      {"{} nær mig", "{} åben nu", "nærmeste {}", "{} i nærheden", NULL},
      {"hvordan laver man {}", "{} trin for trin", "{} guide",
       "{} vejledning", NULL},
      {"køb {}", "{} pris", "billige {}", "bedste {} under 1000 kr",
       "sammenlign {}", "{} tilbud", NULL}},
     {{"en varmepumpe", "solceller", "en elcykel", "renters rente", "surdej",
       NULL},
      {"apotek", "kaffe", "pizza", "cykelværksted", "supermarked",
       "hæveautomat", NULL},
      {"surdejsbrød", "risalamande", "en fuglekasse", "æbleskiver", NULL},
      {"løbesko", "trådløse høretelefoner", "robotstøvsugere", "vinterjakker",
       "hæve-sænkeborde", NULL}},
     {{"for børn", "kort", NULL},
      {"med parkering", "sent åben", NULL},
      {"uden værktøj", "for begyndere", NULL},
      {"til brede fødder", "str 44", "vandtætte", NULL}},
     {"dr.dk", "vejret", "facebook", "e-boks", NULL}},
    {"et",
     {{"kuidas töötab {}", "mis on {}", "{} selgitus",
       "{} plussid ja miinused", NULL},
      {"{} minu lähedal", "{} avatud praegu", "lähim {}", "{} läheduses",
       NULL},
      {"kuidas {}", "{} samm sammult", "{} õpetus", "{} juhend", NULL},
      {"osta {}", "{} hind", "odavad {}", "parimad {} alla 100 euro",
       "võrdle {}", "{} soodustus", NULL}},
     {{"soojuspump", "päikesepaneel", "elektrijalgratas", "liitintress",
       NULL},
      {"apteek", "kohvik", "pitsa", "rattaparandus", "toidupood",
       "pangaautomaat", NULL},
      {"parandada jalgratta ketti", "vahetada rehvi", "teha juuretisleiba",
       "lähtestada ruuterit", NULL},
      {"jooksujalatsid", "juhtmevabad kõrvaklapid", "robottolmuimejad",
       "talvejoped", NULL}},
     {{"lastele", "lihtsalt", NULL},
      {"parkimisega", "hilisõhtul", NULL},
      {"ilma tööriistadeta", "algajatele", NULL},
      {"laiale jalale", "suurus 44", "veekindlad", NULL}},
     {"delfi", "ilm", "facebook", "postimees", NULL}},
    {"de",
     {{"wie funktioniert {}", "was ist {}", "{} erklärt",
       "{} vor- und nachteile", NULL},
      {"{} in der nähe", "{} jetzt geöffnet", "nächste {}",
       "{} in meiner nähe", NULL},
      {"anleitung {}", "{} schritt für schritt", "{} tutorial",
       "wie kann ich {}", NULL},
      {"{} kaufen", "{} preis", "günstige {}", "beste {} unter 100 euro",
       "{} vergleich", "{} angebot", NULL}},
     {{"eine wärmepumpe", "eine solaranlage", "ein e-bike", "zinseszins",
       "sauerteig", NULL},
      {"apotheke", "café", "pizzeria", "fahrradwerkstatt", "supermarkt",
       "geldautomat", NULL},
      {"fahrradkette reparieren", "reifen wechseln", "heizkörper entlüften",
       "sauerteigbrot backen", "router zurücksetzen", NULL},
      {"laufschuhe", "kabellose kopfhörer", "saugroboter", "winterjacken",
       NULL}},
     {{"für kinder", "einfach", NULL},
      {"mit parkplatz", "spät geöffnet", NULL},
      {"ohne werkzeug", "für anfänger", NULL},
      {"für breite füße", "größe 44", "wasserdicht", NULL}},
     {"wetter", "spiegel", "facebook", "bild", NULL}},
    {"es",
     {{"cómo funciona {}", "qué es {}", "{} explicado",
       "ventajas y desventajas de {}", NULL},
      {"{} cerca de mí", "{} abierto ahora", "{} más cercano", "{} cerca",
       NULL},
      {"cómo {}", "{} paso a paso", "tutorial {}", "{} fácil", NULL},
      {"comprar {}", "precio {}", "{} baratas", "mejores {} por menos de 100 "
       "euros", "comparar {}", "{} oferta", NULL}},
     {{"una bomba de calor", "un panel solar", "una bicicleta eléctrica",
       "el interés compuesto", NULL},
      {"farmacia", "cafetería", "pizzería", "taller de bicis", "supermercado",
       "cajero", NULL},
      {"arreglar la cadena de la bici", "cambiar una rueda",
       "hacer pan de masa madre", "reiniciar el router", NULL},
      {"zapatillas de running", "auriculares inalámbricos",
       "robots aspiradores", "chaquetas de invierno", NULL}},
     {{"para niños", "fácil", NULL},
      {"con aparcamiento", "abierto tarde", NULL},
      {"sin herramientas", "para principiantes", NULL},
      {"para pie ancho", "talla 44", "impermeables", NULL}},
     {"el tiempo", "marca", "facebook", "as", NULL}},
};
enum { L_EN, L_DA, L_ET, L_DE, L_ES, L__COUNT };

typedef struct city_s {
    double lat, lon;
    int32_t tz_offset_min; /* November: no daylight saving */
    int lang;
    const char *currency;
    unsigned weight; /* share of users, percent */
} city_t;

static const city_t cities[] = {
    {55.6761, 12.5683, 60, L_DA, "DKK", 25},  /* Copenhagen */
    {59.4370, 24.7536, 120, L_ET, "EUR", 15}, /* Tallinn */
    {52.5200, 13.4050, 60, L_DE, "EUR", 25},  /* Berlin */
    {40.4168, -3.7038, 60, L_ES, "EUR", 15},  /* Madrid */
    {51.5072, -0.1276, 0, L_EN, "GBP", 20},   /* London */
};
#define N_CITIES (sizeof(cities) / sizeof(cities[0]))

static const char *const devices[] = {"mobile", "desktop", "tablet"};

static size_t count_of(const char *const *list) {
    size_t n = 0;
    while (list[n])
        n++;
    return n;
}

/* ---------------------------------------------------------------- random */

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/** xoshiro256** (Blackman, Vigna): fast, 2^256 period, own state. */
static uint64_t rnd(uint64_t s[4]) {
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

static double rnd01(uint64_t s[4]) {
    return (double)(rnd(s) >> 11) * 0x1.0p-53;
}

/** Uniform in [0, n); the multiply-shift bias is below 2^-32. */
static uint32_t rnd_below(uint64_t s[4], size_t n) {
    return (uint32_t)(((rnd(s) >> 32) * (uint64_t)n) >> 32);
}

static int64_t rnd_range(uint64_t s[4], int64_t lo, int64_t hi) {
    return lo + (int64_t)rnd_below(s, (size_t)(hi - lo + 1));
}

static bool chance(uint64_t s[4], double p) { return rnd01(s) < p; }

/** Roughly normal (Irwin-Hall of 4): no trig, deterministic. */
static double rnd_gauss(uint64_t s[4]) {
    return (rnd01(s) + rnd01(s) + rnd01(s) + rnd01(s) - 2.0) * 1.7320508;
}

/* --------------------------------------------------------------- episodes */

typedef enum {
    EP_KNOW, EP_GO, EP_DO, EP_BUY, EP_INSTORE, EP_BROWSE, EP__COUNT
} ep_kind_t;

typedef enum {
    ST_APP_OPEN, ST_QUERY, ST_REFINE, ST_NAV_QUERY, ST_PAGE_VIEW, ST_SCROLL,
    ST_CLICK, ST_CART, ST_PURCHASE, ST_PING
} step_t;

typedef struct episode_s {
    int64_t next_ts;
    char session[20], key[12]; /* "s-" + 16 hex; "u" + up to 8 digits */
    uint32_t user, sku;
    uint8_t kind, intent, lang, city, device, subject, n_steps, step;
    const char *channel;
    double lat, lon;
    uint8_t steps[STEPS_MAX];
} episode_t;

struct mm_gen_s {
    mm_gen_conf_t conf;
    uint64_t rng[4];
    double *cdf; /* Zipf: cdf[i] = P(user rank <= i) */
    episode_t *eps;
    uint32_t *heap, *free_slots; /* heap: slots ordered by next_ts */
    uint32_t n_slots, n_heap, n_free;
    uint64_t n_events;
    int64_t next_arrival, last_ts;
    char key[16];
};

void mm_gen_conf_defaults(mm_gen_conf_t *conf) {
    conf->users = 1000;
    conf->seed = 1;
    conf->start_ts = 1763900000000LL;
    conf->rate = 20;
    conf->zipf_s = 1.0;
}

static bool heap_less(const mm_gen_t *g, uint32_t a, uint32_t b) {
    int64_t ta = g->eps[a].next_ts, tb = g->eps[b].next_ts;
    return ta < tb || (ta == tb && a < b);
}

static void heap_swap(mm_gen_t *g, uint32_t i, uint32_t j) {
    uint32_t t = g->heap[i];
    g->heap[i] = g->heap[j];
    g->heap[j] = t;
}

static void heap_up(mm_gen_t *g, uint32_t i) {
    while (i > 0 && heap_less(g, g->heap[i], g->heap[(i - 1) / 2])) {
        heap_swap(g, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void heap_down(mm_gen_t *g, uint32_t i) {
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < g->n_heap && heap_less(g, g->heap[l], g->heap[m]))
            m = l;
        if (r < g->n_heap && heap_less(g, g->heap[r], g->heap[m]))
            m = r;
        if (m == i)
            return;
        heap_swap(g, i, m);
        i = m;
    }
}

static uint32_t pick_user(mm_gen_t *g) {
    double u = rnd01(g->rng);
    uint32_t lo = 0, hi = g->conf.users - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (g->cdf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/** Home city, language and device: a hash of (seed, user), no state. */
static void user_profile(const mm_gen_t *g, uint32_t user, episode_t *ep) {
    uint64_t x = g->conf.seed ^ ((uint64_t)user * 0xD1B54A32D192ED03ull);
    uint64_t h = splitmix64(&x);
    unsigned pick = (unsigned)(h % 100), acc = 0;
    ep->city = 0;
    for (uint8_t c = 0; c < N_CITIES; c++) {
        acc += cities[c].weight;
        if (pick < acc) {
            ep->city = c;
            break;
        }
    }
    /* One in five users abroad or expat searches in English. */
    ep->lang = (uint8_t)((h >> 8) % 5 == 0 ? L_EN : cities[ep->city].lang);
    unsigned d = (unsigned)((h >> 16) % 100);
    ep->device = (uint8_t)(d < 60 ? 0 : d < 92 ? 1 : 2);
}

static void push_steps(episode_t *ep, step_t st, int64_t n) {
    for (int64_t i = 0; i < n && ep->n_steps < STEPS_MAX; i++)
        ep->steps[ep->n_steps++] = (uint8_t)st;
}

/** The script of one episode; see the design block for the shapes. */
static void build_script(uint64_t *s, episode_t *ep) {
    switch ((ep_kind_t)ep->kind) {
    case EP_KNOW:
        push_steps(ep, ST_APP_OPEN, chance(s, 0.15));
        push_steps(ep, ST_QUERY, 1);
        push_steps(ep, ST_REFINE, rnd_range(s, 0, 2));
        push_steps(ep, ST_PAGE_VIEW, 1);
        push_steps(ep, ST_SCROLL, rnd_range(s, 0, 2));
        push_steps(ep, ST_CLICK, chance(s, 0.5));
        break;
    case EP_DO:
        push_steps(ep, ST_QUERY, 1);
        push_steps(ep, ST_REFINE, rnd_range(s, 1, 3));
        push_steps(ep, ST_PAGE_VIEW, 1);
        push_steps(ep, ST_SCROLL, 1);
        push_steps(ep, ST_CLICK, chance(s, 0.6));
        break;
    case EP_GO:
        push_steps(ep, ST_PING, rnd_range(s, 2, 5));
        push_steps(ep, ST_QUERY, 1);
        push_steps(ep, ST_REFINE, chance(s, 0.5));
        push_steps(ep, ST_CLICK, chance(s, 0.7));
        push_steps(ep, ST_PING, chance(s, 0.5));
        break;
    case EP_BUY:
        push_steps(ep, ST_QUERY, 1);
        push_steps(ep, ST_REFINE, rnd_range(s, 0, 3));
        push_steps(ep, ST_PAGE_VIEW, 1);
        push_steps(ep, ST_CLICK, 1);
        if (chance(s, 0.7)) {
            push_steps(ep, ST_CART, 1);
            push_steps(ep, ST_PURCHASE, chance(s, 0.6));
        }
        break;
    case EP_INSTORE: /* in a shop, the phone looks the product up */
        push_steps(ep, ST_PING, rnd_range(s, 1, 3));
        push_steps(ep, ST_QUERY, 1);
        push_steps(ep, ST_PAGE_VIEW, chance(s, 0.5));
        if (chance(s, 0.5)) {
            push_steps(ep, ST_CART, 1);
            push_steps(ep, ST_PURCHASE, chance(s, 0.7));
        }
        break;
    default: /* EP_BROWSE: app use with no intent */
        push_steps(ep, ST_APP_OPEN, 1);
        push_steps(ep, ST_NAV_QUERY, chance(s, 0.4));
        push_steps(ep, ST_PAGE_VIEW, rnd_range(s, 1, 3));
        push_steps(ep, ST_SCROLL, 1);
        push_steps(ep, ST_CLICK, chance(s, 0.5));
        break;
    }
}

/** Milliseconds from the previous step to @p st. */
static int64_t step_gap(uint64_t *s, step_t st) {
    switch (st) {
    case ST_REFINE: return rnd_range(s, 2000, 15000);
    case ST_QUERY: return rnd_range(s, 5000, 60000);
    case ST_PAGE_VIEW: return rnd_range(s, 2000, 8000);
    case ST_SCROLL: return rnd_range(s, 3000, 20000);
    case ST_CLICK: return rnd_range(s, 2000, 30000);
    case ST_CART: return rnd_range(s, 30000, 180000);
    case ST_PURCHASE: return rnd_range(s, 60000, 300000);
    case ST_PING: return rnd_range(s, 20000, 120000);
    default: return rnd_range(s, 1000, 10000);
    }
}

static const uint8_t kind_intent[EP__COUNT] = {I_KNOW, I_GO, I_DO, I_BUY,
                                               I_BUY, I_KNOW};

static void start_episode(mm_gen_t *g, int64_t ts) {
    static const unsigned kind_weights[EP__COUNT] = {20, 20, 18, 22, 6, 14};
    uint64_t *s = g->rng;
    uint32_t slot = g->free_slots[--g->n_free];
    episode_t *ep = &g->eps[slot];
    memset(ep, 0, sizeof(*ep));
    ep->user = pick_user(g);
    user_profile(g, ep->user, ep);
    unsigned pick = rnd_below(s, 100), acc = 0;
    for (uint8_t k = 0; k < EP__COUNT; k++) {
        acc += kind_weights[k];
        if (pick < acc) {
            ep->kind = k;
            break;
        }
    }
    ep->intent = kind_intent[ep->kind];
    ep->subject = (uint8_t)rnd_below(
        s, count_of(vocabs[ep->lang].subj[ep->intent]));
    if (ep->kind == EP_GO || ep->kind == EP_INSTORE)
        ep->device = 0; /* out and about: the phone pings and searches */
    static const char *const channels[] = {"search", "social", "app"};
    ep->channel = ep->kind == EP_GO && chance(s, 0.5)
                      ? "maps"
                      : channels[rnd_below(s, ep->device == 1 ? 2 : 3)];
    const city_t *c = &cities[ep->city];
    ep->lat = c->lat + rnd_gauss(s) * 0.03; /* a few km around the centre */
    ep->lon = c->lon + rnd_gauss(s) * 0.05;
    ep->sku = (uint32_t)rnd_below(s, 90000) + 10000;
    /* A session: the user's activity in one 30-minute bucket. */
    uint64_t x = g->conf.seed ^ ((uint64_t)ep->user << 24) ^
                 (uint64_t)(ts / 1800000);
    snprintf(ep->session, sizeof(ep->session), "s-%016llx",
             (unsigned long long)splitmix64(&x));
    snprintf(ep->key, sizeof(ep->key), "u%u", ep->user + 1);
    build_script(s, ep);
    ep->next_ts = ts;
    g->heap[g->n_heap++] = slot;
    heap_up(g, g->n_heap - 1);
}

/* ---------------------------------------------------------------- events */

/** tpl with "{}" replaced by subj (and " mod" appended), NUL-terminated. */
static void fill(char *out, size_t cap, const char *tpl, const char *subj,
                 const char *mod) {
    const char *hole = strstr(tpl, "{}");
    if (!hole) {
        snprintf(out, cap, "%s", tpl);
        return;
    }
    size_t pre = (size_t)(hole - tpl);
    snprintf(out, cap, "%.*s%s%s%s%s", (int)pre, tpl, subj, hole + 2,
             mod ? " " : "", mod ? mod : "");
}

static void render_query(mm_gen_t *g, const episode_t *ep, step_t st,
                         char *out, size_t cap) {
    uint64_t *s = g->rng;
    const vocab_t *v = &vocabs[ep->lang];
    const char *subj = v->subj[ep->intent][ep->subject];
    if (st == ST_NAV_QUERY) {
        snprintf(out, cap, "%s", v->nav[rnd_below(s, count_of(v->nav))]);
    } else if (ep->kind == EP_INSTORE) {
        snprintf(out, cap, "%s", subj); /* the bare product name */
    } else {
        const char *const *tpl = v->tpl[ep->intent];
        const char *const *mod = v->mod[ep->intent];
        const char *m = st == ST_REFINE && chance(s, 0.6)
                            ? mod[rnd_below(s, count_of(mod))]
                            : NULL;
        fill(out, cap, tpl[rnd_below(s, count_of(tpl))], subj, m);
    }
}

/** A URL path from a subject: ASCII letters and digits kept, spaces to
 * '-', other bytes percent-encoded. */
static void url_for(const episode_t *ep, char *out, size_t cap) {
    static const char *const hosts[I__COUNT] = {
        "https://guide.example/articles/", "https://maps.example/place/",
        "https://howto.example/", "https://shop.example/p/"};
    const char *subj = vocabs[ep->lang].subj[ep->intent][ep->subject];
    size_t n = (size_t)snprintf(out, cap, "%s", hosts[ep->intent]);
    for (const unsigned char *p = (const unsigned char *)subj;
         *p && n + 4 < cap; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))
            out[n++] = (char)*p;
        else if (*p == ' ')
            out[n++] = '-';
        else
            n += (size_t)snprintf(out + n, cap - n, "%%%02X", *p);
    }
    out[n] = '\0';
}

static void key_str(mm_jw_t *jw, const char *key, const char *val) {
    mm_jw_key(jw, key);
    mm_jw_cstr(jw, val);
}

static void key_int(mm_jw_t *jw, const char *key, int64_t val) {
    mm_jw_key(jw, key);
    mm_jw_int(jw, val);
}

static void write_query(mm_gen_t *g, mm_jw_t *jw, const episode_t *ep,
                        step_t st) {
    char q[160];
    render_query(g, ep, st, q, sizeof(q));
    key_str(jw, "query", q);
    if (chance(g->rng, 0.8)) /* the hint is often missing */
        key_str(jw, "lang", vocabs[ep->lang].code);
}

static void write_page(mm_gen_t *g, mm_jw_t *jw, const episode_t *ep) {
    char url[256];
    url_for(ep, url, sizeof(url));
    key_str(jw, "url", url);
    /* One in eight over 3 s (friction); the rest fast, a long-ish tail
     * kept under 3 s so that "slow" stays the chosen share. */
    int64_t ms = 250 + (int64_t)(-log(1.0 - rnd01(g->rng)) * 700.0);
    if (chance(g->rng, 0.125))
        ms = rnd_range(g->rng, 3001, 9000);
    else if (ms > 2999)
        ms = 2999;
    key_int(jw, "page_load_ms", ms);
}

static void write_ping(mm_gen_t *g, mm_jw_t *jw, episode_t *ep) {
    ep->lat += rnd_gauss(g->rng) * 0.0006; /* a few tens of metres */
    ep->lon += rnd_gauss(g->rng) * 0.0010;
    mm_jw_key(jw, "lat");
    mm_jw_double(jw, ep->lat, 5);
    mm_jw_key(jw, "lon");
    mm_jw_double(jw, ep->lon, 5);
    key_int(jw, "accuracy_m", rnd_range(g->rng, 5, 50)); /* not contract */
    if (ep->kind == EP_INSTORE) {
        mm_jw_key(jw, "in_store");
        mm_jw_bool(jw, true);
    }
}

/** Cart and purchase carry fields outside the contract, nested too: the
 * decoder must skip them. */
static void write_order(mm_gen_t *g, mm_jw_t *jw, const episode_t *ep,
                        step_t st) {
    char sku[16];
    snprintf(sku, sizeof(sku), "SKU-%u", ep->sku);
    key_str(jw, "sku", sku);
    mm_jw_key(jw, "price");
    mm_jw_double(jw, (double)(ep->sku % 2000) + 0.95, 2);
    key_str(jw, "currency", cities[ep->city].currency);
    if (st != ST_PURCHASE)
        return;
    mm_jw_key(jw, "value"); /* the contract's amount: one item here */
    mm_jw_double(jw, (double)(ep->sku % 2000) + 0.95, 2);
    mm_jw_key(jw, "items");
    mm_jw_array_open(jw);
    mm_jw_object_open(jw);
    key_str(jw, "sku", sku);
    key_int(jw, "qty", rnd_range(g->rng, 1, 2));
    mm_jw_object_close(jw);
    mm_jw_array_close(jw);
}

static void write_click(mm_jw_t *jw, const episode_t *ep) {
    char url[256];
    url_for(ep, url, sizeof(url));
    key_str(jw, "url", url);
}

static const char *const step_types[] = {
    [ST_APP_OPEN] = "app_open", [ST_QUERY] = "query",
    [ST_REFINE] = "query",      [ST_NAV_QUERY] = "query",
    [ST_PAGE_VIEW] = "page_view", [ST_SCROLL] = "scroll",
    [ST_CLICK] = "click",       [ST_CART] = "add_to_cart",
    [ST_PURCHASE] = "purchase", [ST_PING] = "location"};

static size_t render(mm_gen_t *g, episode_t *ep, step_t st, char *buf,
                     size_t cap) {
    char id[24], *p = id + sizeof(id);
    uint64_t n = g->n_events;
    do { /* "e-<n>", without printf: this runs once per event */
        *--p = (char)('0' + n % 10);
    } while (n /= 10);
    *--p = '-';
    *--p = 'e';
    mm_jw_t jw;
    mm_jw_init(&jw, buf, cap);
    mm_jw_object_open(&jw);
    mm_jw_key(&jw, "event_id");
    mm_jw_string(&jw, p, (size_t)(id + sizeof(id) - p));
    key_str(&jw, "user_id", ep->key);
    key_str(&jw, "session_id", ep->session);
    key_int(&jw, "ts", g->last_ts);
    key_str(&jw, "type", step_types[st]);
    if (st == ST_QUERY || st == ST_REFINE || st == ST_NAV_QUERY)
        write_query(g, &jw, ep, st);
    else if (st == ST_PAGE_VIEW)
        write_page(g, &jw, ep);
    else if (st == ST_PING)
        write_ping(g, &jw, ep);
    else if (st == ST_CART || st == ST_PURCHASE)
        write_order(g, &jw, ep, st);
    else if (st == ST_SCROLL)
        key_int(&jw, "scroll_pct", rnd_range(g->rng, 10, 100));
    else if (st == ST_CLICK)
        write_click(&jw, ep);
    key_str(&jw, "device", devices[ep->device]);
    key_str(&jw, "channel",
            st == ST_PING || st == ST_APP_OPEN ? "app" : ep->channel);
    key_int(&jw, "tz_offset_min", cities[ep->city].tz_offset_min);
    mm_jw_object_close(&jw);
    return mm_jw_ok(&jw) ? jw.len : 0;
}

/* ------------------------------------------------------------------- API */

mm_gen_t *mm_gen_new(const mm_gen_conf_t *conf) {
    if (conf->users < 1 || conf->users > MM_GEN_USERS_MAX ||
        !(conf->rate > 0) || !isfinite(conf->rate) || !(conf->zipf_s > 0) ||
        conf->zipf_s > 5 || conf->start_ts < 0)
        return NULL;
    mm_gen_t *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    g->conf = *conf;
    double want = 64.0 * conf->rate;
    g->n_slots = want < SLOTS_MIN ? SLOTS_MIN
                 : want > SLOTS_MAX ? SLOTS_MAX
                                    : (uint32_t)want;
    g->cdf = malloc(conf->users * sizeof(*g->cdf));
    g->eps = malloc(g->n_slots * sizeof(*g->eps));
    g->heap = malloc(g->n_slots * sizeof(*g->heap));
    g->free_slots = malloc(g->n_slots * sizeof(*g->free_slots));
    if (!g->cdf || !g->eps || !g->heap || !g->free_slots)
        goto fail;
    double sum = 0;
    for (uint32_t i = 0; i < conf->users; i++)
        g->cdf[i] = (sum += pow((double)i + 1.0, -conf->zipf_s));
    for (uint32_t i = 0; i < conf->users; i++)
        g->cdf[i] /= sum;
    for (uint32_t i = 0; i < g->n_slots; i++)
        g->free_slots[i] = g->n_slots - 1 - i;
    g->n_free = g->n_slots;
    uint64_t x = conf->seed;
    for (int i = 0; i < 4; i++)
        g->rng[i] = splitmix64(&x);
    g->next_arrival = g->last_ts = conf->start_ts;
    return g;
fail:
    mm_gen_destroy(g);
    return NULL;
}

void mm_gen_destroy(mm_gen_t *g) {
    if (!g)
        return;
    free(g->cdf);
    free(g->eps);
    free(g->heap);
    free(g->free_slots);
    free(g);
}

int64_t mm_gen_ts(const mm_gen_t *g) { return g->last_ts; }

/** Start every episode due before the earliest pending event. */
static void admit_arrivals(mm_gen_t *g) {
    double mean_ms = 1000.0 * EVENTS_PER_EPISODE / g->conf.rate;
    for (;;) {
        int64_t t = g->n_heap ? g->eps[g->heap[0]].next_ts : INT64_MAX;
        if (g->next_arrival > t)
            return;
        if (g->n_free == 0) { /* saturated: wait for a slot */
            g->next_arrival = t;
            return;
        }
        start_episode(g, g->next_arrival);
        g->next_arrival +=
            1 + (int64_t)(-log(1.0 - rnd01(g->rng)) * mean_ms);
    }
}

size_t mm_gen_next(mm_gen_t *g, char *buf, size_t cap, mm_str_t *key_out) {
    admit_arrivals(g);
    uint32_t slot = g->heap[0];
    episode_t *ep = &g->eps[slot];
    step_t st = (step_t)ep->steps[ep->step++];
    if (ep->next_ts > g->last_ts)
        g->last_ts = ep->next_ts;
    memcpy(g->key, ep->key, sizeof(ep->key)); /* outlives the episode */
    size_t n = render(g, ep, st, buf, cap);
    g->n_events++;
    if (ep->step < ep->n_steps) {
        ep->next_ts += step_gap(g->rng, (step_t)ep->steps[ep->step]);
        heap_down(g, 0);
    } else {
        g->heap[0] = g->heap[--g->n_heap];
        heap_down(g, 0);
        g->free_slots[g->n_free++] = slot;
    }
    if (key_out)
        *key_out = (mm_str_t){g->key, strlen(g->key)};
    return n;
}
