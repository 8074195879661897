/*
 * Private seam of the places loader: places.c (CSV, checks, lookup) and
 * geojson.c (the GeoJSON reader) build one set through these.
 */
#ifndef MM_PLACES_INT_H
#define MM_PLACES_INT_H

#include "classifier_int.h"

/* Bounds of a place's texts, in bytes. */
#define MM__ID_MAX 64
#define MM__NAME_MAX 256
#define MM__KIND_MAX 32

/* A place being read, with where it came from for messages. */
typedef struct mm__place_raw_s {
    mm_place_t p;
    uint32_t line;
    int32_t feature; /* GeoJSON feature index; -1 in a CSV file */
} mm__place_raw_t;

typedef struct mm__place_build_s {
    const char *path;
    mm__place_raw_t *v;
    size_t n, cap;
    char *errstr;
    size_t errstr_size;
} mm__place_build_t;

/** @brief "<path>:<line>: why", or "<path>: feature N (line L): why" when
 * @p feature >= 0, into the build's errstr. */
void mm__place_fail(mm__place_build_t *b, uint32_t line, int32_t feature, const char *why);

/** @brief Check one place and keep a copy (absent name: "", kind: "store").
 * @returns false with the message set (mm__place_fail) when it is bad. */
bool mm__place_add(mm__place_build_t *b, mm_str_t id, mm_str_t name, mm_str_t kind,
                   double lat, double lon, double radius, uint32_t line, int32_t feature);

/** @brief A decimal number and nothing else (no hex, inf or nan). */
bool mm__parse_decimal(const char *s, size_t n, double *out);

/** @brief Read a GeoJSON FeatureCollection of Points into @p b. */
bool mm__places_geojson(mm__place_build_t *b, const char *buf, size_t len);

#endif
