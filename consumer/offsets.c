/*
 * Offset tracker.
 *
 * Records of a partition are begun in offset order and acknowledged in any
 * order (outputs go to different partitions of the output topic). A ring of
 * (offset, holds) entries between head (oldest unfinished) and tail (next
 * free) keeps them; tickets are the monotonically increasing sequence numbers
 * of the entries, so a ticket finds its slot in O(1) and a stale ticket (one
 * whose slot was reused) is detected. Releasing the head walks forward over
 * finished entries: each entry is passed once, so the cost is O(1) amortised.
 */
#include <stdlib.h>

#include "consumer.h"

typedef struct offset_entry_s {
    int64_t offset;
    uint32_t holds;
} offset_entry_t;

struct mm_offsets_s {
    uint64_t mask;
    uint64_t head; /* sequence number of the oldest unfinished entry */
    uint64_t tail; /* sequence number of the next entry to begin */
    int64_t committable;
    offset_entry_t entries[];
};

mm_offsets_t *mm_offsets_new(size_t capacity) {
    size_t cap = 1;
    while (cap < capacity)
        cap <<= 1;
    mm_offsets_t *o = calloc(1, sizeof(*o) + cap * sizeof(offset_entry_t));
    if (!o)
        return NULL;
    o->mask = cap - 1;
    o->committable = -1;
    return o;
}

void mm_offsets_destroy(mm_offsets_t *offsets) { free(offsets); }

mm_err_t mm_offsets_begin(mm_offsets_t *o, int64_t offset, uint64_t *ticket) {
    if (o->tail - o->head > o->mask)
        return MM_ERR_FULL;
    offset_entry_t *e = &o->entries[o->tail & o->mask];
    e->offset = offset;
    e->holds = 1;
    *ticket = o->tail++;
    return MM_ERR_OK;
}

void mm_offsets_hold(mm_offsets_t *o, uint64_t ticket) {
    if (ticket >= o->head && ticket < o->tail)
        o->entries[ticket & o->mask].holds++;
}

void mm_offsets_release(mm_offsets_t *o, uint64_t ticket) {
    if (ticket < o->head || ticket >= o->tail)
        return; /* stale: the tracker was reset under it */
    offset_entry_t *e = &o->entries[ticket & o->mask];
    if (e->holds == 0)
        return;
    e->holds--;
    while (o->head < o->tail && o->entries[o->head & o->mask].holds == 0) {
        o->committable = o->entries[o->head & o->mask].offset + 1;
        o->head++;
    }
}

int64_t mm_offsets_offset(const mm_offsets_t *o, uint64_t ticket) {
    if (ticket < o->head || ticket >= o->tail)
        return -1;
    return o->entries[ticket & o->mask].offset;
}

int64_t mm_offsets_committable(const mm_offsets_t *o) { return o->committable; }

size_t mm_offsets_inflight(const mm_offsets_t *o) { return (size_t)(o->tail - o->head); }

bool mm_offsets_full(const mm_offsets_t *o) { return o->tail - o->head > o->mask; }
