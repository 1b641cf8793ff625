/*
 * One C pass over compressed RLE strings (module masktrack_d2.format._rlecore): the RLE
 * check shared by the data loader and the metric (its numpy twin is scan_numpy in
 * masktrack_d2/format/rle.py), and the metric's video IoU (its fallback is in
 * evaluation/ytvis_eval/iou.py).
 *
 * The string code (the COCO "compressed RLE"): run lengths alternate zeros, ones, zeros, ...
 * over the column-major pixels of an h x w mask. Each number is written in 5-bit groups,
 * least significant first, one character per group: character = 48 + group, plus 32 when
 * more groups follow; bit 16 of the last group is the sign. From the fourth number on, the
 * string stores the difference to the number two places earlier.
 *
 *   scan(objs) -> (areas, totals, status)
 *       objs: a list of {"size": [h, w], "counts": str | bytes}. One pass per string:
 *       decodes it, checks it and sums its runs. Returns three bytes objects:
 *       int64[n] areas (sum of the ones runs), int64[n] totals (sum of all runs) and
 *       uint8[n] status (see STATUS_*; 0 = a valid RLE of h x w pixels).
 *
 *   video_iou(dt_seqs, gt_seqs, dt_areas, gt_areas, min_iou) -> (intersections, unions)
 *       The terms of the spatio-temporal IoU of every (result, GT) pair of one video; see
 *       the function below. Each mask a measured pair needs is decoded once.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>

enum {
    STATUS_OK = 0,
    STATUS_NOT_TEXT = 1,    /* counts is not an ASCII str / bytes */
    STATUS_BAD_CODE = 2,    /* a character outside '0'..'o', a string cut inside a number,
                               a number longer than 12 characters, or an empty string */
    STATUS_BAD_SIZE = 3,    /* size is not [h, w] of positive integers */
    STATUS_BAD_RUN = 4,     /* a run length below 0 or above h * w */
    STATUS_BAD_TOTAL = 5,   /* the runs do not add up to h * w */
};

static PyObject *KEY_COUNTS, *KEY_SIZE; /* interned "counts" and "size" */

#define MAX_DIGITS 12 /* 60 bits: far beyond any run of a mask of at most 2^30 pixels */

/* The characters of a str (ASCII only) or bytes object; NULL if it is neither. */
static const char *text_of(PyObject *o, Py_ssize_t *len) {
    if (PyUnicode_Check(o)) {
        if (!PyUnicode_IS_ASCII(o)) return NULL;
        *len = PyUnicode_GET_LENGTH(o);
        return (const char *)PyUnicode_DATA(o);
    }
    if (PyBytes_Check(o)) {
        *len = PyBytes_GET_SIZE(o);
        return PyBytes_AS_STRING(o);
    }
    return NULL;
}

/*
 * Read the number at p (p < end). Returns the characters it takes, 0 if it is not in the
 * code. Numbers of one or two characters (nearly all of them: runs are stored as small
 * differences) are read without branching on the data, whose continuation and sign bits a
 * branch predictor cannot guess.
 */
static inline int read_number(const unsigned char *p, const unsigned char *end, int64_t *out) {
    unsigned v0 = (unsigned)p[0] - 48u;
    unsigned v1 = p + 1 < end ? (unsigned)p[1] - 48u : 0xffu;
    unsigned more0 = (v0 >> 5) & 1u;
    unsigned last;
    int64_t x;
    int k;
    if (v0 > 63u || (more0 && (v1 > 63u || (v1 & 0x20u)))) {
        /* a bad character, a cut, or three digits or more: the general loop */
        int c;
        x = 0;
        k = 0;
        do {
            if (p + k >= end || k >= MAX_DIGITS) return 0;
            c = (int)p[k] - 48;
            if (c < 0 || c > 63) return 0;
            x |= (int64_t)(c & 0x1f) << (5 * k);
            k++;
        } while (c & 0x20);
        if (c & 0x10) x -= (int64_t)1 << (5 * k);
        *out = x;
        return k;
    }
    x = (int64_t)(v0 & 0x1fu) | ((int64_t)(v1 & 0x1fu & (0u - more0)) << 5);
    last = more0 ? v1 : v0;
    k = 1 + (int)more0;
    x -= (int64_t)((last >> 4) & 1u) << (5 * k);  /* sign-extend */
    *out = x;
    return k;
}

/*
 * Decode s[0:len] into runs (int64, at most len of them). Returns the number of runs, or -1
 * if the string is not in the code. Values are the true run lengths (no 32-bit wrap).
 */
static Py_ssize_t decode(const char *s, Py_ssize_t len, int64_t *runs) {
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    Py_ssize_t m = 0;
    if (len == 0) return -1;
    while (p < end) {
        int64_t x;
        int k = read_number(p, end, &x);
        if (!k) return -1;
        p += k;
        if (m > 2) x += runs[m - 2];
        runs[m++] = x;
    }
    return m;
}

/* An int, or a float with an integral value (json may write 720.0); -1 otherwise. */
static long long dimension(PyObject *v) {
    if (PyLong_Check(v)) {
        long long x = PyLong_AsLongLong(v);
        if (x == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            return -1;
        }
        return x;
    }
    if (PyFloat_Check(v)) {
        double d = PyFloat_AS_DOUBLE(v);
        if (d >= 1 && d < (1 << 15) && d == (double)(long long)d) return (long long)d;
    }
    return -1;
}

/* h * w of a size [h, w] with 0 < h, w < 2^15; -1 if it is not one. */
static int size_of(PyObject *size, int64_t *hw) {
    long long h, w;
    if (!PyList_Check(size) && !PyTuple_Check(size)) return -1;
    if (PySequence_Fast_GET_SIZE(size) != 2) return -1;
    h = dimension(PySequence_Fast_GET_ITEM(size, 0));
    w = dimension(PySequence_Fast_GET_ITEM(size, 1));
    if (h < 1 || w < 1 || h >= (1 << 15) || w >= (1 << 15)) return -1;
    *hw = (int64_t)h * w;
    return 0;
}

/*
 * Check s[0:len] as the string of an RLE of hw pixels and sum its runs, in one pass with
 * O(1) memory (a run needs only the one two places earlier). Returns a STATUS_* code.
 */
static int summarize(const char *s, Py_ssize_t len, int64_t hw, int64_t *area, int64_t *total) {
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    int64_t before2 = 0, before1 = 0, ones = 0, sum = 0, m = 0;
    *area = *total = 0;
    if (len == 0) return STATUS_BAD_CODE;
    while (p < end) {
        int64_t x;
        int k = read_number(p, end, &x);
        if (!k) return STATUS_BAD_CODE;
        p += k;
        if (m > 2) x += before2;
        if (x < 0 || x > hw) return STATUS_BAD_RUN;
        sum += x;
        ones += x & -(m & 1);
        before2 = before1;
        before1 = x;
        m++;
    }
    *area = ones;
    *total = sum;
    return sum == hw ? STATUS_OK : STATUS_BAD_TOTAL;
}

static PyObject *scan(PyObject *self, PyObject *args) {
    PyObject *objs, *areas_b = NULL, *totals_b = NULL, *status_b = NULL;
    Py_ssize_t n, i;
    int64_t *areas, *totals, *hws = NULL;
    uint8_t *status;
    const char **texts = NULL;
    Py_ssize_t *lens = NULL;
    if (!PyArg_ParseTuple(args, "O!:scan", &PyList_Type, &objs)) return NULL;
    n = PyList_GET_SIZE(objs);
    areas_b = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(int64_t));
    totals_b = PyBytes_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(int64_t));
    status_b = PyBytes_FromStringAndSize(NULL, n);
    texts = malloc((size_t)(n + 1) * sizeof(*texts));
    lens = malloc((size_t)(n + 1) * sizeof(*lens));
    hws = malloc((size_t)(n + 1) * sizeof(*hws));
    if (!areas_b || !totals_b || !status_b || !texts || !lens || !hws) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        goto fail;
    }
    areas = (int64_t *)PyBytes_AS_STRING(areas_b);
    totals = (int64_t *)PyBytes_AS_STRING(totals_b);
    status = (uint8_t *)PyBytes_AS_STRING(status_b);
    /* With the GIL: where each string is. The list holds the dicts and they their strings,
       so the pointers stay valid while the GIL is released below. */
    for (i = 0; i < n; i++) {
        PyObject *o = PyList_GET_ITEM(objs, i), *counts, *size;
        areas[i] = totals[i] = 0;
        texts[i] = NULL;
        if (!PyDict_Check(o)) {
            PyErr_Format(PyExc_TypeError, "scan: item %zd is not a dict", i);
            goto fail;
        }
        counts = PyDict_GetItem(o, KEY_COUNTS);
        size = PyDict_GetItem(o, KEY_SIZE);
        if (!counts || !size) {
            PyErr_Format(PyExc_KeyError, "scan: item %zd has no 'counts' or 'size'", i);
            goto fail;
        }
        if (!(texts[i] = text_of(counts, &lens[i]))) status[i] = STATUS_NOT_TEXT;
        else if (size_of(size, &hws[i])) status[i] = STATUS_BAD_SIZE;
        else status[i] = STATUS_OK;
    }
    /* Without the GIL: the decoding (other threads may scan other lists meanwhile). */
    Py_BEGIN_ALLOW_THREADS
    for (i = 0; i < n; i++) {
        if (status[i] == STATUS_OK)
            status[i] = (uint8_t)summarize(texts[i], lens[i], hws[i], &areas[i], &totals[i]);
    }
    Py_END_ALLOW_THREADS
    free(texts);
    free(lens);
    free(hws);
    return Py_BuildValue("(NNN)", areas_b, totals_b, status_b);
fail:
    free(texts);
    free(lens);
    free(hws);
    Py_XDECREF(areas_b);
    Py_XDECREF(totals_b);
    Py_XDECREF(status_b);
    return NULL;
}

/* Pixels in both interval lists (each sorted and disjoint). */
static int64_t overlap(const int64_t *a, Py_ssize_t na, const int64_t *b, Py_ssize_t nb) {
    Py_ssize_t i = 0, j = 0;
    int64_t sum = 0;
    if (na == 0 || nb == 0 || a[2 * na - 1] <= b[0] || b[2 * nb - 1] <= a[0]) return 0;
    while (i < na && j < nb) {
        int64_t lo = a[2 * i] > b[2 * j] ? a[2 * i] : b[2 * j];
        int64_t hi = a[2 * i + 1] < b[2 * j + 1] ? a[2 * i + 1] : b[2 * j + 1];
        if (hi > lo) sum += hi - lo;
        if (a[2 * i + 1] < b[2 * j + 1]) i++;
        else j++;
    }
    return sum;
}

/* One frame of one track: where its string is, its size and area, and, once decoded, the
   range of its ones intervals in the shared buffer. */
typedef struct {
    const char *text;
    Py_ssize_t len;
    int64_t h, w, area;
    Py_ssize_t first, count;
    char present, needed;
} Mask;

/* A list of tracks (each a list with a compressed RLE dict or a falsy value per frame) as
   n x frames Masks. */
typedef struct {
    Mask *m;
    Py_ssize_t n, frames, *length;
} Tracks;

static void tracks_free(Tracks *t) {
    free(t->m);
    free(t->length);
    t->m = NULL;
    t->length = NULL;
}

/* With the GIL. ``areas``: int64 (n, frames) with frames = the longest track. */
static int tracks_of(PyObject *seqs, Py_buffer *areas, const char *name, Tracks *t) {
    Py_ssize_t i, f;
    const int64_t *area;
    t->n = PyList_GET_SIZE(seqs);
    t->frames = 0;
    t->m = NULL;
    t->length = calloc((size_t)t->n + 1, sizeof(Py_ssize_t));
    if (!t->length) {
        PyErr_NoMemory();
        return -1;
    }
    for (i = 0; i < t->n; i++) {
        PyObject *seq = PyList_GET_ITEM(seqs, i);
        if (!PyList_Check(seq) && !PyTuple_Check(seq)) {
            PyErr_Format(PyExc_TypeError, "video_iou: %s[%zd] is not a list", name, i);
            return -1;
        }
        t->length[i] = PySequence_Fast_GET_SIZE(seq);
        if (t->length[i] > t->frames) t->frames = t->length[i];
    }
    if (areas->len != t->n * t->frames * (Py_ssize_t)sizeof(int64_t)) {
        PyErr_Format(PyExc_ValueError, "video_iou: %s areas are not int64 (%zd, %zd)", name,
                     t->n, t->frames);
        return -1;
    }
    area = (const int64_t *)areas->buf;
    t->m = calloc((size_t)(t->n * t->frames) + 1, sizeof(Mask));
    if (!t->m) {
        PyErr_NoMemory();
        return -1;
    }
    for (i = 0; i < t->n; i++) {
        PyObject *seq = PyList_GET_ITEM(seqs, i);
        for (f = 0; f < t->length[i]; f++) {
            PyObject *o = PySequence_Fast_GET_ITEM(seq, f), *counts, *size;
            Mask *k = &t->m[i * t->frames + f];
            int truth = PyObject_IsTrue(o);
            long long h, w;
            if (truth < 0) return -1;
            if (!truth) continue;  /* None / {} / []: no mask in this frame */
            counts = PyDict_Check(o) ? PyDict_GetItem(o, KEY_COUNTS) : NULL;
            size = PyDict_Check(o) ? PyDict_GetItem(o, KEY_SIZE) : NULL;
            if (!counts || !size || !(k->text = text_of(counts, &k->len)) ||
                (!PyList_Check(size) && !PyTuple_Check(size)) ||
                PySequence_Fast_GET_SIZE(size) != 2 ||
                (h = dimension(PySequence_Fast_GET_ITEM(size, 0))) < 1 ||
                (w = dimension(PySequence_Fast_GET_ITEM(size, 1))) < 1) {
                PyErr_Format(PyExc_ValueError, "video_iou: %s[%zd][%zd] is not a compressed RLE "
                             "{size: [h, w], counts: str}", name, i, f);
                return -1;
            }
            k->h = h;
            k->w = w;
            k->area = area[i * t->frames + f];
            k->present = 1;
        }
    }
    return 0;
}

/* Without the GIL: the ones intervals of the needed masks. Returns the index of the first
   that is not a compressed RLE, or -1. */
static Py_ssize_t tracks_decode(Tracks *t, int64_t *iv, Py_ssize_t *used, int64_t *runs) {
    Py_ssize_t i, n = t->n * t->frames;
    for (i = 0; i < n; i++) {
        Mask *k = &t->m[i];
        Py_ssize_t m, j;
        int64_t pos = 0;
        if (!k->needed) continue;
        if ((m = decode(k->text, k->len, runs)) < 0) return i;
        k->first = *used;
        for (j = 0; j < m; j++) {
            if (runs[j] < 0) return i;
            if ((j & 1) && runs[j] > 0) {
                iv[2 * *used] = pos;
                iv[2 * *used + 1] = pos + runs[j];
                (*used)++;
            }
            pos += runs[j];
        }
        k->count = *used - k->first;
    }
    return -1;
}

/*
 * video_iou(dt_seqs, gt_seqs, dt_areas, gt_areas, min_iou) -> (intersections, unions)
 *
 * The spatio-temporal IoU terms of every (result, GT) pair of a video: over the frames both
 * lists have (the shorter list ends the sum), the pixels in both masks and in either. A
 * frame where only one has a mask adds its area to the union; a frame where the two masks
 * have different sizes adds nothing. ``*_areas``: int64 (tracks, longest track) buffers of
 * the RLE areas. With min_iou > 0, a pair whose IoU provably stays below it (the
 * intersection is at most the smaller mask) is not measured: its union comes back as -1.
 * Returns two int64[D * G] bytes objects.
 */
static PyObject *video_iou(PyObject *self, PyObject *args) {
    PyObject *dt_seqs, *gt_seqs, *inter_b = NULL, *union_b = NULL, *result = NULL;
    Py_buffer dt_areas, gt_areas;
    double min_iou;
    Tracks dt = {0}, gt = {0};
    int64_t *iv = NULL, *runs = NULL, *inter, *uni;
    Py_ssize_t d, g, f, i, chars = 0, longest = 1, used = 0, bad_dt = -1, bad_gt = -1;
    if (!PyArg_ParseTuple(args, "O!O!y*y*d:video_iou", &PyList_Type, &dt_seqs, &PyList_Type,
                          &gt_seqs, &dt_areas, &gt_areas, &min_iou))
        return NULL;
    if (tracks_of(dt_seqs, &dt_areas, "dt", &dt) || tracks_of(gt_seqs, &gt_areas, "gt", &gt))
        goto fail;
    inter_b = PyBytes_FromStringAndSize(NULL, dt.n * gt.n * (Py_ssize_t)sizeof(int64_t));
    union_b = PyBytes_FromStringAndSize(NULL, dt.n * gt.n * (Py_ssize_t)sizeof(int64_t));
    if (!inter_b || !union_b) goto fail;
    inter = (int64_t *)PyBytes_AS_STRING(inter_b);
    uni = (int64_t *)PyBytes_AS_STRING(union_b);
    /* the area terms, the pruning, and the masks the measured pairs need decoded */
    for (d = 0; d < dt.n; d++)
        for (g = 0; g < gt.n; g++) {
            Py_ssize_t stop = dt.length[d] < gt.length[g] ? dt.length[d] : gt.length[g];
            int64_t only = 0, lo = 0, hi = 0;
            int any = 0;
            for (f = 0; f < stop; f++) {
                const Mask *a = &dt.m[d * dt.frames + f], *b = &gt.m[g * gt.frames + f];
                if (a->present && b->present) {
                    if (a->h == b->h && a->w == b->w) {
                        lo += a->area < b->area ? a->area : b->area;
                        hi += a->area > b->area ? a->area : b->area;
                        any = 1;
                    }
                } else {
                    only += a->present ? a->area : b->present ? b->area : 0;
                }
            }
            inter[d * gt.n + g] = 0;
            uni[d * gt.n + g] = only;
            if (any && min_iou > 0 && (double)lo < (min_iou - 1e-9) * (double)(hi + only)) {
                uni[d * gt.n + g] = -1;  /* pruned */
                continue;
            }
            for (f = 0; f < stop && any; f++) {
                Mask *a = &dt.m[d * dt.frames + f], *b = &gt.m[g * gt.frames + f];
                if (a->present && b->present && a->h == b->h && a->w == b->w)
                    a->needed = b->needed = 1;
            }
        }
    for (i = 0; i < dt.n * dt.frames + gt.n * gt.frames; i++) {
        const Mask *k = i < dt.n * dt.frames ? &dt.m[i] : &gt.m[i - dt.n * dt.frames];
        if (!k->needed) continue;
        if (k->len > longest) longest = k->len;
        chars += k->len / 2 + 1;  /* a run takes at least one character */
    }
    iv = malloc((size_t)(2 * chars + 2) * sizeof(int64_t));
    runs = malloc((size_t)longest * sizeof(int64_t));
    if (!iv || !runs) {
        PyErr_NoMemory();
        goto fail;
    }
    Py_BEGIN_ALLOW_THREADS
    bad_dt = tracks_decode(&dt, iv, &used, runs);
    if (bad_dt < 0) bad_gt = tracks_decode(&gt, iv, &used, runs);
    if (bad_dt < 0 && bad_gt < 0) {
        for (d = 0; d < dt.n; d++)
            for (g = 0; g < gt.n; g++) {
                Py_ssize_t stop = dt.length[d] < gt.length[g] ? dt.length[d] : gt.length[g];
                int64_t in = 0, un = uni[d * gt.n + g];
                if (un < 0) continue;  /* pruned */
                for (f = 0; f < stop; f++) {
                    const Mask *a = &dt.m[d * dt.frames + f], *b = &gt.m[g * gt.frames + f];
                    if (a->needed && b->needed && a->h == b->h && a->w == b->w) {
                        int64_t both = overlap(iv + 2 * a->first, a->count,
                                               iv + 2 * b->first, b->count);
                        in += both;
                        un += a->area + b->area - both;
                    }
                }
                inter[d * gt.n + g] = in;
                uni[d * gt.n + g] = un;
            }
    }
    Py_END_ALLOW_THREADS
    if (bad_dt >= 0 || bad_gt >= 0) {
        Tracks *t = bad_dt >= 0 ? &dt : &gt;
        Py_ssize_t at = bad_dt >= 0 ? bad_dt : bad_gt;
        PyErr_Format(PyExc_ValueError, "video_iou: %s[%zd][%zd] is not a compressed RLE",
                     bad_dt >= 0 ? "dt" : "gt", at / t->frames, at % t->frames);
        goto fail;
    }
    result = Py_BuildValue("(OO)", inter_b, union_b);
fail:
    free(iv);
    free(runs);
    tracks_free(&dt);
    tracks_free(&gt);
    PyBuffer_Release(&dt_areas);
    PyBuffer_Release(&gt_areas);
    Py_XDECREF(inter_b);
    Py_XDECREF(union_b);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(objs) -> (areas int64 bytes, totals int64 bytes, status uint8 bytes)"},
    {"video_iou", video_iou, METH_VARARGS,
     "video_iou(dt_seqs, gt_seqs, dt_areas, gt_areas, min_iou) -> (intersections, unions)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_rlecore",
                                    "Compressed RLE strings in one C pass.", -1, methods};

PyMODINIT_FUNC PyInit__rlecore(void) {
    KEY_COUNTS = PyUnicode_InternFromString("counts");
    KEY_SIZE = PyUnicode_InternFromString("size");
    if (!KEY_COUNTS || !KEY_SIZE) return NULL;
    return PyModule_Create(&module);
}
