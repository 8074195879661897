/*
 * Places: the operator's stores, from one file (mm.places.file), read with
 * the rules so that a reload swaps them together with everything else.
 *
 * FORMATS (told apart by the first character that is not a space or a
 * byte-order mark: '{' is GeoJSON, anything else CSV)
 *   CSV      a header row naming the columns, in any order: id, lat, lon,
 *            radius (metres) are required, name and kind optional (aliases
 *            latitude, longitude/lng, radius_m); other columns are ignored.
 *            Fields are separated by commas; a field in double quotes may
 *            hold commas and "" for a quote, and ends on its line. Blank
 *            lines and lines starting with # are skipped.
 *   GeoJSON  a FeatureCollection of Point features: coordinates [lon, lat],
 *            properties id (or the feature's id), radius (or radius_m),
 *            name and kind.
 * Every place is checked (id 1..64 bytes and unique, latitude, longitude,
 * radius in (0, 50 km], texts UTF-8 without control characters), and the
 * first bad one fails the load naming the file and its line (GeoJSON: the
 * feature's index and line): a typo never ships as a store nobody is in.
 *
 * LOOKUP. The globe is cut into strips of latitude twice the widest
 * radius high, and places are sorted by (strip, longitude): the places
 * that can hold a position lie in at most two strips, each within a range
 * of longitude, and a binary search finds each range. Inside it, a place
 * further north, south, east or west than its own radius costs two
 * compares; the distance is computed for the rest. Measured (CPU time on
 * a shared machine, random positions over Denmark, radii 50-150 m): 10
 * places ~45 ns per lookup, 1,000 ~115 ns, 100,000 ~320 ns (a latitude
 * band alone: 27, 80, 750 ns). One 50 km circle makes every strip and
 * range wide, so a file mixing it with shop-sized circles costs more.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "detectors.h"
#include "places_int.h"

#define MM__M_PER_DEG_LAT 111195.0
#define MM__DEG2RAD (3.14159265358979323846 / 180.0)
#define MM__RADIUS_MAX_M 50000.0
#define MM__CSV_COLS_MAX 64

struct mm__places_s {
    mm_place_t *v;    /* sorted by (strip, longitude, id); strings owned */
    int32_t *strip;   /* v[i]'s strip and longitude, packed for the searches */
    double *lon;
    size_t n;
    double reach_deg; /* the widest radius, in degrees of latitude */
    double strip_deg; /* a strip's height: twice reach_deg */
};

static void place_free(mm_place_t *p) {
    free((char *)p->id);
    free((char *)p->name);
    free((char *)p->kind);
}

void mm__places_destroy(struct mm__places_s *ps) {
    if (!ps)
        return;
    for (size_t i = 0; i < ps->n; i++)
        place_free(&ps->v[i]);
    free(ps->v);
    free(ps->strip);
    free(ps->lon);
    free(ps);
}

void mm__place_fail(mm__place_build_t *b, uint32_t line, int32_t feature, const char *why) {
    if (feature >= 0)
        snprintf(b->errstr, b->errstr_size, "%s: feature %d (line %u): %s", b->path,
                 feature, line, why);
    else
        snprintf(b->errstr, b->errstr_size, "%s:%u: %s", b->path, line, why);
}

bool mm__place_add(mm__place_build_t *b, mm_str_t id, mm_str_t name, mm_str_t kind,
                   double lat, double lon, double radius, uint32_t line, int32_t feature) {
    char why[160];
    if (!kind.p || kind.len == 0)
        kind = MM_STR_LIT("store");
    if (!name.p)
        name = MM_STR_LIT("");
    if (!id.p)
        id = MM_STR_LIT("");
    bool ok = mm__text_check("id", id.p, id.len, MM__ID_MAX, true, why, sizeof(why)) &&
              mm__text_check("name", name.p, name.len, MM__NAME_MAX, false, why, sizeof(why)) &&
              mm__text_check("kind", kind.p, kind.len, MM__KIND_MAX, true, why, sizeof(why));
    if (ok && !(lat >= -90 && lat <= 90)) {
        snprintf(why, sizeof(why), "latitude %g is outside [-90, 90]", lat);
        ok = false;
    } else if (ok && !(lon >= -180 && lon <= 180)) {
        snprintf(why, sizeof(why), "longitude %g is outside [-180, 180]", lon);
        ok = false;
    } else if (ok && !(radius > 0 && radius <= MM__RADIUS_MAX_M)) {
        snprintf(why, sizeof(why), "radius %g is outside (0, %g] metres", radius,
                 MM__RADIUS_MAX_M);
        ok = false;
    } else if (ok && b->n == MM_PLACES_MAX) {
        snprintf(why, sizeof(why), "more than %d places", MM_PLACES_MAX);
        ok = false;
    }
    if (!ok) {
        mm__place_fail(b, line, feature, why);
        return false;
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        mm__place_raw_t *v = realloc(b->v, cap * sizeof(*v));
        if (!v) {
            mm__place_fail(b, line, feature, "out of memory");
            return false;
        }
        b->v = v;
        b->cap = cap;
    }
    mm__place_raw_t *r = &b->v[b->n];
    *r = (mm__place_raw_t){
        .p = {.lat = lat, .lon = lon, .radius_m = radius}, .line = line, .feature = feature};
    r->p.id = strndup(id.p, id.len);
    r->p.name = strndup(name.p, name.len);
    r->p.kind = strndup(kind.p, kind.len);
    b->n++; /* freed with the others even when a copy failed */
    if (!r->p.id || !r->p.name || !r->p.kind) {
        mm__place_fail(b, line, feature, "out of memory");
        return false;
    }
    return true;
}

/* strtod would also take hex, inf and nan. */
bool mm__parse_decimal(const char *s, size_t n, double *out) {
    char tmp[64];
    if (n == 0 || n >= sizeof(tmp) || strspn(s, "0123456789+-.eE") < n)
        return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *end = NULL;
    double d = strtod(tmp, &end);
    if (end != tmp + n || !isfinite(d))
        return false;
    *out = d;
    return true;
}

/* ------------------------------------------------------------------- CSV */

enum { COL_ID, COL_NAME, COL_LAT, COL_LON, COL_RADIUS, COL_KIND, COL__COUNT };

static const struct {
    const char *name;
    int col;
} csv_names[] = {{"id", COL_ID},           {"name", COL_NAME},      {"lat", COL_LAT},
                 {"latitude", COL_LAT},    {"lon", COL_LON},        {"lng", COL_LON},
                 {"longitude", COL_LON},   {"radius", COL_RADIUS},  {"radius_m", COL_RADIUS},
                 {"kind", COL_KIND}};

static const char *const col_names[COL__COUNT] = {"id", "name", "lat", "lon", "radius",
                                                  "kind"};

/* Splits @p line into fields in place (quotes removed, "" made "); spaces
 * around an unquoted field are not part of it. */
static bool csv_split(char *line, mm_str_t *fields, size_t *n_fields, char *why,
                      size_t why_size) {
    size_t n = 0;
    char *p = line;
    for (;;) {
        if (n == MM__CSV_COLS_MAX) {
            snprintf(why, why_size, "more than %d fields", MM__CSV_COLS_MAX);
            return false;
        }
        while (*p == ' ' || *p == '\t')
            p++;
        char *start = p, *w = p;
        if (*p == '"') {
            start = w = ++p;
            for (;; p++) {
                if (*p == '\0') {
                    snprintf(why, why_size, "a quoted field does not end on its line");
                    return false;
                }
                if (*p == '"' && p[1] == '"')
                    *w++ = *p++;
                else if (*p == '"')
                    break;
                else
                    *w++ = *p;
            }
            p++;
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p != ',' && *p != '\0') {
                snprintf(why, why_size, "text after a quoted field");
                return false;
            }
        } else {
            while (*p != ',' && *p != '\0')
                p++;
            w = p;
            while (w > start && (w[-1] == ' ' || w[-1] == '\t'))
                w--;
        }
        fields[n++] = (mm_str_t){start, (size_t)(w - start)};
        if (*p == '\0')
            break;
        p++; /* the comma */
    }
    *n_fields = n;
    return true;
}

static bool csv_header(mm__place_build_t *b, const mm_str_t *fields, size_t n, uint32_t line,
                       int cols[COL__COUNT]) {
    char why[160];
    for (int c = 0; c < COL__COUNT; c++)
        cols[c] = -1;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < sizeof(csv_names) / sizeof(csv_names[0]); k++) {
            if (strlen(csv_names[k].name) != fields[i].len ||
                strncasecmp(csv_names[k].name, fields[i].p, fields[i].len) != 0)
                continue;
            int c = csv_names[k].col;
            if (cols[c] >= 0) {
                snprintf(why, sizeof(why), "column '%s' appears twice", col_names[c]);
                mm__place_fail(b, line, -1, why);
                return false;
            }
            cols[c] = (int)i;
        }
    }
    static const int required[] = {COL_ID, COL_LAT, COL_LON, COL_RADIUS};
    for (size_t k = 0; k < sizeof(required) / sizeof(required[0]); k++) {
        if (cols[required[k]] < 0) {
            snprintf(why, sizeof(why),
                     "the header has no '%s' column (a header row names the columns: "
                     "id,name,lat,lon,radius,kind)",
                     col_names[required[k]]);
            mm__place_fail(b, line, -1, why);
            return false;
        }
    }
    return true;
}

static bool csv_row(mm__place_build_t *b, const mm_str_t *f, size_t n, size_t n_header,
                    const int cols[COL__COUNT], uint32_t line) {
    char why[160];
    if (n != n_header) {
        snprintf(why, sizeof(why), "expected %zu fields as in the header, got %zu", n_header,
                 n);
        mm__place_fail(b, line, -1, why);
        return false;
    }
    double v[COL__COUNT] = {0};
    static const int numeric[] = {COL_LAT, COL_LON, COL_RADIUS};
    for (size_t k = 0; k < 3; k++) {
        const mm_str_t *s = &f[cols[numeric[k]]];
        if (!mm__parse_decimal(s->p, s->len, &v[numeric[k]])) {
            snprintf(why, sizeof(why), "%s '%.*s' is not a number", col_names[numeric[k]],
                     (int)(s->len > 40 ? 40 : s->len), s->p);
            mm__place_fail(b, line, -1, why);
            return false;
        }
    }
    mm_str_t none = {NULL, 0};
    return mm__place_add(b, f[cols[COL_ID]], cols[COL_NAME] >= 0 ? f[cols[COL_NAME]] : none,
                         cols[COL_KIND] >= 0 ? f[cols[COL_KIND]] : none, v[COL_LAT],
                         v[COL_LON], v[COL_RADIUS], line, -1);
}

static bool load_csv(mm__place_build_t *b, char *buf, size_t len) {
    mm__lines_t it = {buf, buf + len, 0};
    mm_str_t fields[MM__CSV_COLS_MAX];
    int cols[COL__COUNT];
    size_t n_header = 0;
    char *line, why[160];
    size_t line_len, n;
    while (mm__lines_next(&it, &line, &line_len)) {
        size_t lead = strspn(line, " \t");
        if (line[lead] == '\0' || line[lead] == '#')
            continue;
        if (!csv_split(line, fields, &n, why, sizeof(why))) {
            mm__place_fail(b, it.lineno, -1, why);
            return false;
        }
        if (n_header == 0) {
            if (!csv_header(b, fields, n, it.lineno, cols))
                return false;
            n_header = n;
        } else if (!csv_row(b, fields, n, n_header, cols, it.lineno)) {
            return false;
        }
    }
    if (n_header == 0) {
        snprintf(b->errstr, b->errstr_size, "%s: no header row (id,name,lat,lon,radius,kind)",
                 b->path);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ load */

static int cmp_id(const void *a, const void *b) {
    return strcmp((*(mm__place_raw_t *const *)a)->p.id, (*(mm__place_raw_t *const *)b)->p.id);
}

/* A place with its strip, while the index is sorted. */
typedef struct keyed_s {
    int32_t strip;
    mm_place_t p;
} keyed_t;

static int cmp_keyed(const void *a, const void *b) {
    const keyed_t *x = a, *y = b;
    if (x->strip != y->strip)
        return x->strip < y->strip ? -1 : 1;
    if (x->p.lon != y->p.lon)
        return x->p.lon < y->p.lon ? -1 : 1;
    return strcmp(x->p.id, y->p.id); /* ids are unique: a total order */
}

static int32_t strip_of(const struct mm__places_s *ps, double lat) {
    return (int32_t)floor((lat + 90.0) / ps->strip_deg);
}

/* Moves the places of @p b into the index; false when out of memory (the
 * places stay with @p b). */
static bool index_build(struct mm__places_s *ps, mm__place_build_t *b) {
    size_t n = b->n;
    keyed_t *k = malloc((n ? n : 1) * sizeof(*k));
    ps->v = malloc((n ? n : 1) * sizeof(*ps->v));
    ps->strip = malloc((n ? n : 1) * sizeof(*ps->strip));
    ps->lon = malloc((n ? n : 1) * sizeof(*ps->lon));
    if (!k || !ps->v || !ps->strip || !ps->lon) {
        free(k);
        return false;
    }
    for (size_t i = 0; i < n; i++)
        if (b->v[i].p.radius_m / MM__M_PER_DEG_LAT > ps->reach_deg)
            ps->reach_deg = b->v[i].p.radius_m / MM__M_PER_DEG_LAT;
    ps->strip_deg = 2 * ps->reach_deg;
    for (size_t i = 0; i < n; i++)
        k[i] = (keyed_t){strip_of(ps, b->v[i].p.lat), b->v[i].p};
    qsort(k, n, sizeof(*k), cmp_keyed);
    for (size_t i = 0; i < n; i++) {
        ps->v[i] = k[i].p;
        ps->strip[i] = k[i].strip;
        ps->lon[i] = k[i].p.lon;
    }
    ps->n = n;
    b->n = 0; /* the strings belong to the index now */
    free(k);
    return true;
}

/* Ids are unique: the later of two equal ones is named. */
static bool ids_unique(mm__place_build_t *b) {
    mm__place_raw_t **by_id = malloc((b->n ? b->n : 1) * sizeof(*by_id));
    if (!by_id) {
        snprintf(b->errstr, b->errstr_size, "%s: out of memory", b->path);
        return false;
    }
    for (size_t i = 0; i < b->n; i++)
        by_id[i] = &b->v[i];
    qsort(by_id, b->n, sizeof(*by_id), cmp_id);
    bool ok = true;
    for (size_t i = 1; i < b->n && ok; i++) {
        if (strcmp(by_id[i - 1]->p.id, by_id[i]->p.id) != 0)
            continue;
        mm__place_raw_t *x = by_id[i - 1], *y = by_id[i];
        if (y->line < x->line || (y->line == x->line && y->feature < x->feature)) {
            mm__place_raw_t *t = x;
            x = y;
            y = t;
        }
        char why[160];
        snprintf(why, sizeof(why), "duplicate id '%.64s' (first at line %u)", y->p.id,
                 x->line);
        mm__place_fail(b, y->line, y->feature, why);
        ok = false;
    }
    free(by_id);
    return ok;
}

struct mm__places_s *mm__places_load(const char *path, char *errstr, size_t errstr_size) {
    mm__place_build_t b = {.path = path, .errstr = errstr, .errstr_size = errstr_size};
    struct mm__places_s *ps = NULL;
    char *buf = NULL;
    size_t len = 0;
    if (!mm__file_read(path, MM_PLACES_FILE_MAX, &buf, &len, errstr, errstr_size))
        goto fail;
    char *text = buf;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) /* a BOM some editors write */
        text += 3;
    size_t text_len = len - (size_t)(text - buf);
    size_t lead = strspn(text, " \t\r\n");
    bool ok = text[lead] == '{' ? mm__places_geojson(&b, text, text_len)
                                : load_csv(&b, text, text_len);
    if (!ok || !ids_unique(&b))
        goto fail;
    ps = calloc(1, sizeof(*ps));
    if (!ps || !index_build(ps, &b)) {
        snprintf(errstr, errstr_size, "%s: out of memory", path);
        goto fail;
    }
    free(b.v);
    free(buf);
    return ps;
fail:
    for (size_t i = 0; i < b.n; i++)
        place_free(&b.v[i].p);
    free(b.v);
    free(buf);
    mm__places_destroy(ps); /* holds no place yet: n is 0 */
    return NULL;
}

/* The nearest-centred place holding (lat, lon) among strip @p s's places
 * with a longitude in [lo, hi], into *best (at *best_m metres). */
static void scan_strip(const struct mm__places_s *ps, int32_t s, double lo, double hi,
                       double lat, double lon, double m_per_deg_lon, const mm_place_t **best,
                       double *best_m) {
    size_t a = 0, b = ps->n;
    while (a < b) { /* the first place at or after (s, lo) */
        size_t mid = a + (b - a) / 2;
        if (ps->strip[mid] < s || (ps->strip[mid] == s && ps->lon[mid] < lo))
            a = mid + 1;
        else
            b = mid;
    }
    for (size_t i = a; i < ps->n && ps->strip[i] == s && ps->lon[i] <= hi; i++) {
        const mm_place_t *p = &ps->v[i];
        double dlon = fabs(lon - p->lon);
        if (dlon > 180)
            dlon = 360 - dlon; /* the short way round the antimeridian */
        if (fabs(lat - p->lat) * MM__M_PER_DEG_LAT > p->radius_m ||
            dlon * m_per_deg_lon > p->radius_m)
            continue;
        double m = mm__geo_distance_m(lat, lon, p->lat, p->lon);
        if (m <= p->radius_m && (!*best || m < *best_m)) {
            *best = p;
            *best_m = m;
        }
    }
}

const mm_place_t *mm__places_find(const struct mm__places_s *ps, double lat, double lon) {
    if (!ps || ps->n == 0)
        return NULL;
    /* Metres per degree of longitude anywhere in reach, at least: a place
     * further east or west than its radius by this measure is out of reach. */
    double far = fabs(lat) + ps->reach_deg;
    double m_per_deg_lon = far >= 90 ? 0 : MM__M_PER_DEG_LAT * cos(far * MM__DEG2RAD);
    double reach_m = ps->reach_deg * MM__M_PER_DEG_LAT;
    double reach_lon = m_per_deg_lon > reach_m / 180 ? reach_m / m_per_deg_lon : 360;
    const mm_place_t *best = NULL;
    double best_m = 0;
    for (int32_t s = strip_of(ps, lat - ps->reach_deg); s <= strip_of(ps, lat + ps->reach_deg);
         s++) {
        if (reach_lon >= 180) { /* near a pole: the whole strip */
            scan_strip(ps, s, -INFINITY, INFINITY, lat, lon, m_per_deg_lon, &best, &best_m);
            continue;
        }
        double lo = lon - reach_lon, hi = lon + reach_lon;
        scan_strip(ps, s, lo, hi, lat, lon, m_per_deg_lon, &best, &best_m);
        if (lo < -180) /* the box crosses the antimeridian */
            scan_strip(ps, s, lo + 360, 180, lat, lon, m_per_deg_lon, &best, &best_m);
        if (hi > 180)
            scan_strip(ps, s, -180, hi - 360, lat, lon, m_per_deg_lon, &best, &best_m);
    }
    return best;
}

size_t mm__places_list(const struct mm__places_s *ps, const mm_place_t **out) {
    *out = ps && ps->n ? ps->v : NULL;
    return ps ? ps->n : 0;
}
