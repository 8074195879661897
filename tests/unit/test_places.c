/*
 * Places files (classifier/places.c, geojson.c): CSV and GeoJSON read into
 * the same places, every bad place refused with its file and line (GeoJSON:
 * feature), and the lookup that finds the circle a position lies in.
 */
#include <check.h>

#include "check_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier/detectors.h"

static char g_dir[64];

static void setup(void) { mm_test_dir(g_dir); }
static void teardown(void) { mm_test_dir_remove(g_dir); }

/* Load @p text as a file named @p name; NULL with the message in err. */
static struct mm__places_s *load(const char *name, const char *text, char *err,
                                 size_t err_size) {
    char path[128];
    mm_test_file(g_dir, name, text, path, sizeof(path));
    return mm__places_load(path, err, err_size);
}

static const mm_place_t *by_id(const struct mm__places_s *ps, const char *id) {
    const mm_place_t *v;
    size_t n = mm__places_list(ps, &v);
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].id, id) == 0)
            return &v[i];
    return NULL;
}

/* ------------------------------------------------------------------- CSV */

START_TEST(test_csv_columns_in_any_order_with_quotes) {
    char err[256];
    struct mm__places_s *ps = load("p.csv",
                                   "# stores of the chain\n"
                                   "\n"
                                   "Kind, Radius_M ,Latitude,lng,id,name,opened\n"
                                   "outlet,50,55.70,12.55,nord,\"Nord, \"\"the big one\"\"\",2019\n"
                                   " , 120 , 55.60 , 12.50 , syd , Syd ,2020\r\n",
                                   err, sizeof(err));
    ck_assert_msg(ps != NULL, "%s", err);
    const mm_place_t *v;
    ck_assert_uint_eq(mm__places_list(ps, &v), 2);
    ck_assert_str_eq(v[0].id, "syd"); /* index order: the southern strip first */
    const mm_place_t *nord = by_id(ps, "nord"), *syd = by_id(ps, "syd");
    ck_assert_str_eq(nord->name, "Nord, \"the big one\"");
    ck_assert_str_eq(nord->kind, "outlet");
    ck_assert_double_eq(nord->lat, 55.70);
    ck_assert_double_eq(nord->lon, 12.55);
    ck_assert_double_eq(nord->radius_m, 50);
    ck_assert_str_eq(syd->name, "Syd");
    ck_assert_str_eq(syd->kind, "store"); /* empty kind: a store */
    ck_assert_double_eq(syd->radius_m, 120);
    mm__places_destroy(ps);
}
END_TEST

START_TEST(test_csv_without_optional_columns) {
    char err[256];
    struct mm__places_s *ps =
        load("p.csv", "\xEF\xBB\xBFid,lat,lon,radius\na,1.5,2.5,10\n", err, sizeof(err));
    ck_assert_msg(ps != NULL, "%s", err);
    const mm_place_t *a = by_id(ps, "a");
    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(a->name, "");
    ck_assert_str_eq(a->kind, "store");
    mm__places_destroy(ps);
}
END_TEST

/* { file text, what the message must contain } */
static const struct {
    const char *text, *want;
} csv_bad_rows[] = {
    {"id,lat,lon,radius\na,91,0,10\n", "p.csv:2: latitude 91 is outside [-90, 90]"},
    {"id,lat,lon,radius\na,0,-180.5,10\n", "p.csv:2: longitude -180.5 is outside"},
    {"id,lat,lon,radius\na,0,0,0\n", "p.csv:2: radius 0 is outside (0, 50000] metres"},
    {"id,lat,lon,radius\na,0,0,50001\n", "p.csv:2: radius 50001 is outside"},
    {"id,lat,lon,radius\na,0,0,ten\n", "p.csv:2: radius 'ten' is not a number"},
    {"id,lat,lon,radius\na,0x10,0,10\n", "p.csv:2: lat '0x10' is not a number"},
    {"id,lat,lon,radius\na,nan,0,10\n", "p.csv:2: lat 'nan' is not a number"},
    {"id,lat,lon,radius\na,1e999,0,10\n", "p.csv:2: lat '1e999' is not a number"},
    {"id,lat,lon\na,0,0\n", "p.csv:1: the header has no 'radius' column"},
    {"id,lat,lat,lon,radius\n", "p.csv:1: column 'lat' appears twice"},
    {"id,lat,lon,radius\na,0,0\n", "p.csv:2: expected 4 fields as in the header, got 3"},
    {"id,lat,lon,radius\n\n# c\na,0,0,10\nb,0,0,10\na,1,1,10\n",
     "p.csv:6: duplicate id 'a' (first at line 4)"},
    {"id,lat,lon,radius\n,0,0,10\n", "p.csv:2: id is empty"},
    {"id,lat,lon,radius\n\"a,0,0,10\n", "p.csv:2: a quoted field does not end on its line"},
    {"id,lat,lon,radius\n\"a\"x,0,0,10\n", "p.csv:2: text after a quoted field"},
    {"id,lat,lon,radius,name\na,0,0,10,\xff\n", "p.csv:2: name is not UTF-8 text"},
    {"id,lat,lon,radius\n"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,0,0,10\n",
     "p.csv:2: id is longer than 64 bytes"},
    {"# only a comment\n", "p.csv: no header row"},
};

/* The file @p name holding @p text is refused with a message holding @p want. */
static void refused(const char *name, const char *text, const char *want) {
    char err[256] = "";
    ck_assert_ptr_null(load(name, text, err, sizeof(err)));
    ck_assert_msg(strstr(err, want) != NULL, "got '%s', want '%s'", err, want);
}

START_TEST(test_csv_bad_place_names_file_and_line) {
    refused("p.csv", csv_bad_rows[_i].text, csv_bad_rows[_i].want);
}
END_TEST

START_TEST(test_nul_byte_names_its_line) {
    char path[128], err[256];
    snprintf(path, sizeof(path), "%s/nul.csv", g_dir);
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fwrite("id,lat,lon,radius\na\0,0,0,10\n", 1, 28, fp);
    fclose(fp);
    ck_assert_ptr_null(mm__places_load(path, err, sizeof(err)));
    ck_assert_msg(strstr(err, "nul.csv:2: a NUL byte") != NULL, "%s", err);
}
END_TEST

START_TEST(test_missing_file_is_named) {
    char err[256];
    ck_assert_ptr_null(mm__places_load("/nonexistent/places.csv", err, sizeof(err)));
    ck_assert_str_eq(err, "/nonexistent/places.csv: No such file or directory");
}
END_TEST

START_TEST(test_more_than_max_places_refused) {
    size_t cap = (size_t)(MM_PLACES_MAX + 2) * 24 + 64, n = 0;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    n += (size_t)snprintf(text, cap, "id,lat,lon,radius\n");
    for (int i = 0; i <= MM_PLACES_MAX; i++)
        n += (size_t)snprintf(text + n, cap - n, "p%d,%d.%04d,0,10\n", i, i / 10000,
                              i % 10000);
    char err[256];
    ck_assert_ptr_null(load("many.csv", text, err, sizeof(err)));
    free(text);
    ck_assert_msg(strstr(err, "many.csv:100002: more than 100000 places") != NULL, "%s", err);
}
END_TEST

START_TEST(test_file_larger_than_bound_refused) {
    char path[128], err[256], *buf;
    size_t len;
    mm_test_file(g_dir, "big.csv", "0123456789A", path, sizeof(path));
    ck_assert(!mm__file_read(path, 10, &buf, &len, err, sizeof(err)));
    ck_assert_msg(strstr(err, "big.csv: larger than 10 bytes") != NULL, "%s", err);
    ck_assert(mm__file_read(path, 11, &buf, &len, err, sizeof(err)));
    ck_assert_uint_eq(len, 11);
    free(buf);
}
END_TEST

/* --------------------------------------------------------------- GeoJSON */

START_TEST(test_geojson_points_become_places) {
    char err[256];
    struct mm__places_s *ps = load(
        "p.geojson",
        "{\"type\": \"FeatureCollection\", \"name\": \"stores\",\n"
        " \"features\": [\n"
        "  {\"type\": \"Feature\", \"geometry\": {\"type\": \"Point\",\n"
        "   \"coordinates\": [12.5841, 55.6794, 14.0]},\n"
        "   \"properties\": {\"id\": \"magasin\", \"name\": \"K\\u00f8benhavn \\ud83d\\uded2\",\n"
        "    \"kind\": \"store\", \"radius\": 80, \"opening\": {\"mon\": [9, 20]}}},\n"
        "  {\"type\": \"Feature\", \"id\": 17,\n"
        "   \"geometry\": {\"coordinates\": [-3.7038, 40.4168], \"type\": \"Point\"},\n"
        "   \"properties\": {\"radius_m\": 1.5e2, \"extra\": null}}\n"
        " ]}\n",
        err, sizeof(err));
    ck_assert_msg(ps != NULL, "%s", err);
    const mm_place_t *m = by_id(ps, "magasin"), *f = by_id(ps, "17");
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_nonnull(f);
    ck_assert_str_eq(m->name, "K\xc3\xb8" "benhavn \xf0\x9f\x9b\x92");
    ck_assert_double_eq(m->lat, 55.6794); /* [lon, lat]: GeoJSON's order */
    ck_assert_double_eq(m->lon, 12.5841);
    ck_assert_double_eq(m->radius_m, 80);
    ck_assert_double_eq(f->radius_m, 150);
    ck_assert_str_eq(f->kind, "store");
    mm__places_destroy(ps);
}
END_TEST

#define FC(features) "{\"type\":\"FeatureCollection\",\"features\":[" features "]}"
#define PT(lon, lat, props)                                                                \
    "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[" lon "," lat \
    "]},\"properties\":{" props "}}"

static const struct {
    const char *text, *want;
} geo_bad_rows[] = {
    {FC(PT("0", "0", "\"id\":\"a\",\"radius\":5") ",\n"
        "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Polygon\",\"coordinates\":"
        "[[[0,0],[1,0],[1,1],[0,0]]]},\"properties\":{\"id\":\"b\",\"radius\":5}}"),
     "p.geojson: feature 1 (line 2): geometry is not a Point"},
    {FC(PT("0", "0", "\"id\":\"a\"")), "p.geojson: feature 0 (line 1): no radius"},
    {FC(PT("0", "0", "\"id\":\"a\",\"radius\":5") ",\n" PT("0", "95", "\"id\":\"b\",\"radius\":5")),
     "p.geojson: feature 1 (line 2): latitude 95 is outside"},
    {FC(PT("0", "0", "\"id\":\"a\",\"radius\":5") ",\n" PT("1", "1", "\"id\":\"a\",\"radius\":5")),
     "p.geojson: feature 1 (line 2): duplicate id 'a' (first at line 1)"},
    {FC(PT("0", "0", "\"radius\":5")), "p.geojson: feature 0 (line 1): id is empty"},
    {FC("{\"type\":\"Feature\",\"geometry\":null,\"properties\":{\"id\":\"a\",\"radius\":5}}"),
     "feature 0 (line 1): no geometry"},
    {FC("{\"type\":\"Thing\",\"geometry\":null}"), "feature 0 (line 1): type is not \"Feature\""},
    {FC(PT("0", "0", "\"id\":\"a\",\"radius\":5,")), "p.geojson:1: expected a string"},
    {FC(PT("0", "0", "\"id\":\"a\",\"radius\":05")), "p.geojson:1: expected a number"},
    {FC(PT("0", "0", "\"id\":\"a\\x\",\"radius\":5")), "p.geojson:1: bad escape in a string"},
    {FC(PT("0", "0", "\"id\":\"\\udc00\",\"radius\":5")), "p.geojson:1: a lone low surrogate"},
    {FC(PT("0", "0", "\"id\":\"a\",\"radius\":5,\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]"
                     "]]]]]]]]]]]]]]]]]]]]]]]]]]]")),
     "p.geojson:1: nested deeper than 32"},
    {FC(PT("0", "0", "\"id\":\"a\",\"radius\":5")) "\n\n{}", "p.geojson:3: text after the GeoJSON"},
    {"{\"type\":\"Feature\",\"features\":[]}", "p.geojson: not a GeoJSON FeatureCollection"},
    {"{\"type\":\"FeatureCollection\"}", "p.geojson: not a GeoJSON FeatureCollection"},
    {"{\"type\":\"FeatureCollection\",\n\"features\":[\n", "p.geojson:3: expected an object"},
    {FC(PT("1", "2,3,4", "\"id\":\"a\",\"radius\":5")),
     "feature 0 (line 1): a Point's coordinates are [longitude, latitude]"},
    {FC("{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[1]}}"),
     "feature 0 (line 1): a Point's coordinates are [longitude, latitude]"},
};

START_TEST(test_geojson_bad_feature_names_it) {
    refused("p.geojson", geo_bad_rows[_i].text, geo_bad_rows[_i].want);
}
END_TEST

/* ---------------------------------------------------------------- lookup */

static struct mm__places_s *stores(void) {
    char err[256];
    struct mm__places_s *ps = load("s.csv",
                                   "id,lat,lon,radius\n"
                                   "south,55.6000,12.5000,100\n"
                                   "magasin,55.6794,12.5841,80\n"
                                   "kiosk,55.6790,12.5850,30\n"
                                   "north,55.7000,12.6000,100\n"
                                   "region,56.5000,10.0000,50000\n"
                                   "dateline,0.0000,179.9995,100\n"
                                   "pole,89.9999,0.0000,100\n",
                                   err, sizeof(err));
    ck_assert_msg(ps != NULL, "%s", err);
    return ps;
}

/* { lat, lon, the place found (NULL: none) } */
static const struct {
    double lat, lon;
    const char *want;
} find_rows[] = {
    {55.6794, 12.5841, "magasin"}, {55.6790, 12.5849, "kiosk"}, /* nearer of two */
    {55.6810, 12.5841, NULL},      {55.6005, 12.5000, "south"},
    {55.7000, 12.6015, "north"},   {55.7000, 12.6020, NULL}, /* ~125 m east */
    {56.9000, 10.1000, "region"},  {-33.0, 151.0, NULL},
    {0.0000, -179.9999, "dateline"}, /* across the antimeridian, ~67 m */
    {0.0000, -179.9980, NULL},
    {89.9995, 90.0, "pole"},         /* a quarter round the pole, ~68 m */
};

START_TEST(test_find_returns_the_circle_holding_the_position) {
    struct mm__places_s *ps = stores();
    const mm_place_t *p = mm__places_find(ps, find_rows[_i].lat, find_rows[_i].lon);
    if (find_rows[_i].want) {
        ck_assert_ptr_nonnull(p);
        ck_assert_str_eq(p->id, find_rows[_i].want);
    } else {
        ck_assert_ptr_null(p);
    }
    mm__places_destroy(ps);
}
END_TEST

/* The index finds what a scan of every place finds: the nearest centre of
 * the circles holding the position. Random stores (shop-sized, then mixed
 * with a few wide ones) around the antimeridian and in Denmark. */
START_TEST(test_find_agrees_with_every_place_scanned) {
    static const struct {
        double lat0, lat1, lon0, lon1;
    } area[] = {{54.5, 57.75, 8.0, 12.7}, {-0.5, 0.5, 179.5, 180.5}};
    unsigned seed = 17u + (unsigned)_i;
    size_t cap = 2000 * 48 + 64, len = 0;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    len += (size_t)snprintf(text, cap, "id,lat,lon,radius\n");
    for (int i = 0; i < 2000; i++) {
        int a = i % 2;
        double lat = area[a].lat0 + (area[a].lat1 - area[a].lat0) * rand_r(&seed) / RAND_MAX;
        double lon = area[a].lon0 + (area[a].lon1 - area[a].lon0) * rand_r(&seed) / RAND_MAX;
        if (lon > 180)
            lon -= 360;
        double radius = _i == 1 && i % 500 == 0 ? 20000 : 50 + rand_r(&seed) % 5000;
        len += (size_t)snprintf(text + len, cap - len, "p%d,%.6f,%.6f,%.0f\n", i, lat, lon, radius);
    }
    char err[256];
    struct mm__places_s *ps = load("random.csv", text, err, sizeof(err));
    free(text);
    ck_assert_msg(ps != NULL, "%s", err);
    const mm_place_t *v;
    size_t n = mm__places_list(ps, &v);
    int found = 0;
    for (int q = 0; q < 20000; q++) {
        int a = q % 2;
        double lat = area[a].lat0 + (area[a].lat1 - area[a].lat0) * rand_r(&seed) / RAND_MAX;
        double lon = area[a].lon0 + (area[a].lon1 - area[a].lon0) * rand_r(&seed) / RAND_MAX;
        if (lon > 180)
            lon -= 360;
        const mm_place_t *want = NULL;
        double want_m = 0;
        for (size_t i = 0; i < n; i++) {
            double m = mm__geo_distance_m(lat, lon, v[i].lat, v[i].lon);
            if (m <= v[i].radius_m && (!want || m < want_m)) {
                want = &v[i];
                want_m = m;
            }
        }
        const mm_place_t *got = mm__places_find(ps, lat, lon);
        ck_assert_msg(got == want, "(%f, %f): got %s, want %s", lat, lon,
                      got ? got->id : "none", want ? want->id : "none");
        found += want != NULL;
    }
    ck_assert_int_gt(found, 1000); /* the comparison saw many hits, not only misses */
    mm__places_destroy(ps);
}
END_TEST

START_TEST(test_find_without_places_is_none) {
    ck_assert_ptr_null(mm__places_find(NULL, 55.6794, 12.5841));
    char err[256];
    struct mm__places_s *ps = load("empty.csv", "id,lat,lon,radius\n", err, sizeof(err));
    ck_assert_msg(ps != NULL, "%s", err);
    ck_assert_ptr_null(mm__places_find(ps, 55.6794, 12.5841));
    mm__places_destroy(ps);
}
END_TEST

/* --------------------------------------------------------------- rules */

START_TEST(test_rules_carry_the_places_file) {
    char path[128], err[512];
    mm_test_file(g_dir, "r.csv", "id,lat,lon,radius\nx,1,2,30\n", path, sizeof(path));
    mm_rules_conf_t conf;
    mm_rules_conf_defaults(&conf);
    snprintf(conf.places_file, sizeof(conf.places_file), "%s", path);
    mm_rules_t *rules = mm_rules_load(MM_SOURCE_DIR "/lexicons", &conf, err, sizeof(err));
    ck_assert_msg(rules != NULL, "%s", err);
    const mm_place_t *v;
    ck_assert_uint_eq(mm_rules_places(rules, &v), 1);
    ck_assert_str_eq(v[0].id, "x");
    mm_rules_destroy(rules);
    mm_test_file(g_dir, "r.csv", "id,lat,lon,radius\nx,1,2\n", path, sizeof(path));
    ck_assert_ptr_null(mm_rules_load(MM_SOURCE_DIR "/lexicons", &conf, err, sizeof(err)));
    ck_assert_msg(strstr(err, "r.csv:2: expected 4 fields") != NULL, "%s", err);
    conf.places_file[0] = '\0';
    rules = mm_rules_load(MM_SOURCE_DIR "/lexicons", &conf, err, sizeof(err));
    ck_assert_msg(rules != NULL, "%s", err);
    ck_assert_uint_eq(mm_rules_places(rules, &v), 0);
    mm_rules_destroy(rules);
}
END_TEST

#define NROWS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *places_suite(void) {
    Suite *s = suite_create("places");
    TCase *tc = tcase_create("places_csv");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_csv_columns_in_any_order_with_quotes);
    tcase_add_test(tc, test_csv_without_optional_columns);
    tcase_add_loop_test(tc, test_csv_bad_place_names_file_and_line, 0, NROWS(csv_bad_rows));
    tcase_add_test(tc, test_nul_byte_names_its_line);
    tcase_add_test(tc, test_missing_file_is_named);
    tcase_add_test(tc, test_more_than_max_places_refused);
    tcase_add_test(tc, test_file_larger_than_bound_refused);
    suite_add_tcase(s, tc);

    tc = tcase_create("places_geojson");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_geojson_points_become_places);
    tcase_add_loop_test(tc, test_geojson_bad_feature_names_it, 0, NROWS(geo_bad_rows));
    suite_add_tcase(s, tc);

    tc = tcase_create("places_lookup");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_find_returns_the_circle_holding_the_position, 0,
                        NROWS(find_rows));
    tcase_add_loop_test(tc, test_find_agrees_with_every_place_scanned, 0, 2);
    tcase_add_test(tc, test_find_without_places_is_none);
    tcase_add_test(tc, test_rules_carry_the_places_file);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return mm_check_run(places_suite()); }
