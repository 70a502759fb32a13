# Rung-level lookup shared by the compiled rung systems (cimported, inlined).

from libc.stdint cimport int64_t


cdef inline Py_ssize_t reached_rung(const int64_t* levels, Py_ssize_t num_rungs,
                                    int64_t time) noexcept nogil:
    """Highest j with levels[j] <= time, or -1 (binary search, O(log K))."""
    cdef Py_ssize_t low = 0
    cdef Py_ssize_t high = num_rungs
    cdef Py_ssize_t middle
    while low < high:
        middle = (low + high) >> 1
        if levels[middle] <= time:
            low = middle + 1
        else:
            high = middle
    return low - 1
