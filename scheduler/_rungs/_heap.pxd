# Binary heaps over raw C arrays for the rung kernels.
#
# Each heap is addressed as ``base[i * step]`` for i = 0..size-1 with step +1 or
# -1, so two heaps can share one buffer: one grows up from the front, the other
# down from the back (base = buffer + capacity - 1, step = -1). Then the two heaps
# of a rung together need exactly as many slots as the rung has entries.
#
# ``dheap_*``: max-heaps of doubles (store negated values for a min-heap).
# ``iheap_*``: heaps of uint32 entry indices ordered by ``better``: larger key
# first, ties by smaller index (earlier record). ``best_first`` selects whether the
# best (True) or the worst (False) entry is on top.
# push: O(log n) worst case, O(1) expected for random input; sift/pop: O(log n).

from libc.stdint cimport uint32_t


cdef inline void dheap_push(double* base, Py_ssize_t step, Py_ssize_t size,
                            double value) noexcept nogil:
    """Add ``value`` to the max-heap of ``size`` values (it then holds size + 1)."""
    cdef Py_ssize_t i = size
    cdef Py_ssize_t parent
    while i > 0:
        parent = (i - 1) >> 1
        if not (base[parent * step] < value):
            break
        base[i * step] = base[parent * step]
        i = parent
    base[i * step] = value


cdef inline void dheap_sift(double* base, Py_ssize_t step, Py_ssize_t size,
                            double value) noexcept nogil:
    """Put ``value`` in the vacant root of the max-heap of ``size`` slots, sift down."""
    cdef Py_ssize_t i = 0
    cdef Py_ssize_t child = 1
    while child < size:
        if child + 1 < size and base[child * step] < base[(child + 1) * step]:
            child += 1
        if not (value < base[child * step]):
            break
        base[i * step] = base[child * step]
        i = child
        child = 2 * i + 1
    base[i * step] = value


cdef inline double dheap_pop(double* base, Py_ssize_t step, Py_ssize_t size) noexcept nogil:
    """Remove and return the top of the max-heap of ``size`` >= 1 values."""
    cdef double top = base[0]
    if size > 1:
        dheap_sift(base, step, size - 1, base[(size - 1) * step])
    return top


cdef inline bint better(const double* keys, uint32_t a, uint32_t b) noexcept nogil:
    """Whether entry a ranks before entry b: larger key, ties by earlier record."""
    return keys[a] > keys[b] or (keys[a] == keys[b] and a < b)


cdef inline bint above(const double* keys, uint32_t a, uint32_t b, bint best_first) noexcept nogil:
    if best_first:
        return better(keys, a, b)
    return better(keys, b, a)


cdef inline void iheap_push(uint32_t* base, Py_ssize_t step, Py_ssize_t size, uint32_t entry,
                            const double* keys, bint best_first) noexcept nogil:
    """Add ``entry`` to the heap of ``size`` indices."""
    cdef Py_ssize_t i = size
    cdef Py_ssize_t parent
    while i > 0:
        parent = (i - 1) >> 1
        if not above(keys, entry, base[parent * step], best_first):
            break
        base[i * step] = base[parent * step]
        i = parent
    base[i * step] = entry


cdef inline void iheap_sift(uint32_t* base, Py_ssize_t step, Py_ssize_t size, uint32_t entry,
                            const double* keys, bint best_first) noexcept nogil:
    """Put ``entry`` in the vacant root of the heap of ``size`` slots, sift down."""
    cdef Py_ssize_t i = 0
    cdef Py_ssize_t child = 1
    while child < size:
        if child + 1 < size and above(keys, base[(child + 1) * step], base[child * step],
                                      best_first):
            child += 1
        if not above(keys, base[child * step], entry, best_first):
            break
        base[i * step] = base[child * step]
        i = child
        child = 2 * i + 1
    base[i * step] = entry


cdef inline uint32_t iheap_pop(uint32_t* base, Py_ssize_t step, Py_ssize_t size,
                               const double* keys, bint best_first) noexcept nogil:
    """Remove and return the top of the heap of ``size`` >= 1 indices."""
    cdef uint32_t top = base[0]
    if size > 1:
        iheap_sift(base, step, size - 1, base[(size - 1) * step], keys, best_first)
    return top
